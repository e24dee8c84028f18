// Package iamcontract reads the least-privilege contract in policies/: for
// each role (the Terraform address of its aws_iam_role), the actions it may
// perform on which resources, and which service's Go code uses it.
//
//	role "module.api.aws_iam_role.task" {
//	  code = "api"
//	  allow {
//	    actions   = ["dynamodb:GetItem"]
//	    resources = [module.data.table_arn]
//	  }
//	}
//
// Resources are Terraform references (resolved in the root module being
// checked, so they compare with what the Terraform grants) or ARN patterns.
package iamcontract

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	"github.com/conveyor-dev/conveyor/actions/internal/tfeval"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Role is one role's entry, unevaluated.
type Role struct {
	Address string
	Code    string
	Range   hcl.Range
	Allows  []Allow
}

// Allow is one allow block.
type Allow struct {
	Actions   hclsyntax.Expression
	Resources hclsyntax.Expression
	Range     hcl.Range
}

// Contract is every role entry.
type Contract struct {
	Roles []Role
	Files []string
}

// Error is a contract file that cannot be read, with its position.
type Error struct {
	Range   hcl.Range
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Range.Filename, e.Range.Start.Line, e.Range.Start.Column, e.Message)
}

// Load reads a contract file, or every *.hcl file in a directory.
func Load(path string) (*Contract, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading contract %s: %w", path, err)
	}
	files := []string{path}
	if st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*.hcl"))
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("contract directory %s has no *.hcl files", path)
		}
	}
	c := &Contract{Files: files}
	seen := map[string]hcl.Range{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading contract %s: %w", f, err)
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.Pos{Line: 1, Column: 1})
		if diags.HasErrors() {
			d := diags[0]
			rng := hcl.Range{Filename: f, Start: hcl.Pos{Line: 1, Column: 1}}
			if d.Subject != nil {
				rng = *d.Subject
			}
			return nil, &Error{Range: rng, Message: d.Summary + ": " + d.Detail}
		}
		body := file.Body.(*hclsyntax.Body)
		for name, a := range body.Attributes {
			return nil, &Error{Range: a.NameRange, Message: fmt.Sprintf("unexpected attribute %q; the contract holds only role blocks", name)}
		}
		for _, b := range body.Blocks {
			if b.Type != "role" || len(b.Labels) != 1 {
				return nil, &Error{Range: b.DefRange(), Message: `want role "ADDRESS" { ... }`}
			}
			r := Role{Address: b.Labels[0], Range: b.LabelRanges[0]}
			if prev, dup := seen[r.Address]; dup {
				return nil, &Error{Range: r.Range, Message: fmt.Sprintf("role %s is already in the contract at %s:%d", r.Address, prev.Filename, prev.Start.Line)}
			}
			seen[r.Address] = r.Range
			for name, a := range b.Body.Attributes {
				if name != "code" {
					return nil, &Error{Range: a.NameRange, Message: fmt.Sprintf("unexpected attribute %q in role (want code and allow blocks)", name)}
				}
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() || v.Type().FriendlyName() != "string" {
					return nil, &Error{Range: a.Expr.Range(), Message: "code must be a literal service name, e.g. \"api\""}
				}
				r.Code = v.AsString()
			}
			for _, ab := range b.Body.Blocks {
				if ab.Type != "allow" {
					return nil, &Error{Range: ab.DefRange(), Message: fmt.Sprintf("unexpected block %q in role (want allow)", ab.Type)}
				}
				al := Allow{Range: ab.DefRange()}
				for name, a := range ab.Body.Attributes {
					switch name {
					case "actions":
						al.Actions = a.Expr
					case "resources":
						al.Resources = a.Expr
					default:
						return nil, &Error{Range: a.NameRange, Message: fmt.Sprintf("unexpected attribute %q in allow (want actions, resources)", name)}
					}
				}
				if al.Actions == nil || al.Resources == nil {
					return nil, &Error{Range: al.Range, Message: "allow needs both actions and resources"}
				}
				r.Allows = append(r.Allows, al)
			}
			c.Roles = append(c.Roles, r)
		}
	}
	return c, nil
}

// Resolve evaluates the contract's expressions in a root module's scope
// (nil: references stay unknown) into the form the rules compare.
func (c *Contract) Resolve(root *tfeval.Scope) []policyrules.ContractRole {
	out := []policyrules.ContractRole{}
	for _, r := range c.Roles {
		cr := policyrules.ContractRole{Address: r.Address, Code: r.Code, Range: r.Range}
		for _, al := range r.Allows {
			cr.Allows = append(cr.Allows, policyrules.ContractAllow{
				Actions:   strs(root, al.Actions),
				Resources: strs(root, al.Resources),
				Range:     al.Range,
			})
		}
		out = append(out, cr)
	}
	return out
}

func strs(root *tfeval.Scope, e hclsyntax.Expression) []iampolicy.Str {
	var v tfeval.Value
	if root != nil {
		v = root.Eval(e, nil)
	} else {
		v = tfeval.NewRoot(tfeval.NewSources(), &tfeval.Module{}, nil).Eval(e, nil)
	}
	var out []iampolicy.Str
	var walk func(tfeval.Value)
	walk = func(v tfeval.Value) {
		if v.Kind == tfeval.KList {
			for _, it := range v.Elements() {
				walk(it)
			}
			return
		}
		out = append(out, v.Str())
	}
	walk(v)
	return out
}
