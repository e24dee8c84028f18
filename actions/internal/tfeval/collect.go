package tfeval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Document is one policy document found in the configuration.
type Document struct {
	// Owner is the address of the resource that holds the document, e.g.
	// module.api.aws_iam_role_policy.task.
	Owner string
	// Attr is the argument it came from: policy, inline_policy,
	// assume_role_policy, policy_arn (an AWS-managed policy).
	Attr string
	// Resource marks a resource-based policy (queue, repository, bucket,
	// topic, key) and Trust a role's trust policy: principals matter there.
	Resource bool
	Trust    bool
	Managed  string // the AWS-managed policy ARN, if any
	Policy   iampolicy.Policy
	Range    hcl.Range
}

// Role is an IAM role (or user or group) and every document that grants
// to it.
type Role struct {
	Address   string // module.api.aws_iam_role.task
	Kind      string // role, user, group
	Name      Value
	Range     hcl.Range
	Documents []*Document
	Trust     *Document
}

// Problem is something the evaluator could not resolve and that decides a
// verdict: a policy it cannot link to a role, a managed policy it does not
// know, a document it cannot read.
type Problem struct {
	Range   hcl.Range
	Address string
	Message string
	// Warn marks a gap the user cannot close in their configuration (an
	// AWS-managed policy outside the vendored set): reported, not blocking.
	Warn bool
}

// Result is what a root module grants.
type Result struct {
	Dir       string
	Roles     []*Role
	Documents []*Document
	Problems  []Problem
	Root      *Scope
	Sources   *Sources
}

// Role returns the role with an address.
func (r *Result) Role(addr string) *Role {
	for _, x := range r.Roles {
		if x.Address == addr {
			return x
		}
	}
	return nil
}

// Options are the inputs of an evaluation beyond the directory.
type Options struct {
	VarFiles []string
	// ModulesDir is a .terraform/modules directory (holding modules.json)
	// to read registry and git modules from; default: dir/.terraform/modules.
	ModulesDir string
}

// Evaluate reads the root module in dir (with terraform.tfvars and
// *.auto.tfvars, plus any extra var files) and computes every role's
// effective policy. An error means input that cannot be parsed.
func Evaluate(dir string, varFiles ...string) (*Result, error) {
	return EvaluateWith(dir, Options{VarFiles: varFiles})
}

// EvaluateWith is Evaluate with every option.
func EvaluateWith(dir string, opt Options) (*Result, error) {
	varFiles := opt.VarFiles
	src := NewSources()
	mod, err := src.LoadModule(dir)
	if err != nil {
		return nil, err
	}
	if err := src.readInstalled(dir, opt.ModulesDir); err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.auto.tfvars"))
	if _, err := os.Stat(filepath.Join(dir, "terraform.tfvars")); err == nil {
		files = append([]string{filepath.Join(dir, "terraform.tfvars")}, files...)
	}
	files = append(files, varFiles...)
	tfvars := map[string]Value{}
	empty := &Scope{src: src, Mod: &Module{Dir: dir}, locals: map[string]*Value{}, busy: map[string]bool{}, kids: map[string]*Scope{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading var file %s: %w", f, err)
		}
		body, err := src.ParseFile(f, b)
		if err != nil {
			return nil, err
		}
		for name, a := range body.Attributes {
			tfvars[name] = empty.eval(a.Expr, nil, 0)
		}
	}
	root := NewRoot(src, mod, tfvars)
	c := &collector{res: &Result{Dir: dir, Root: root, Sources: src}, policies: map[string]*Document{}}
	if err := c.walk(root); err != nil {
		return nil, err
	}
	c.link()
	c.res.Problems = append(c.res.Problems, src.problems...)
	return c.res, nil
}

type pending struct {
	role  Value
	doc   *Document
	arn   Value
	owner string
	rng   hcl.Range
}

type collector struct {
	res      *Result
	policies map[string]*Document // aws_iam_policy address -> document
	links    []pending
	attach   []pending
}

// instance is one expanded count/for_each instance.
type instance struct {
	key string
	ctx *Ctx
}

func (s *Scope) instances(body *hclsyntax.Body) []instance {
	if a, ok := body.Attributes["count"]; ok {
		v := s.eval(a.Expr, nil, 0)
		n, known := v.Number()
		if v.Kind == KList && v.Alt {
			// both branches: take the larger count, fail closed
			for _, alt := range v.List {
				if f, ok := alt.Number(); ok && f > n {
					n, known = f, true
				}
			}
		}
		if !known {
			idx := unknown("count.index", a.Expr.Range())
			return []instance{{key: "[?]", ctx: (&Ctx{}).with("count", objectOf(map[string]Value{"index": idx}, idx.Range))}}
		}
		var out []instance
		for i := 0; i < int(n) && i < 1000; i++ {
			idx := Value{Kind: KNumber, S: itoa(i), Range: a.Expr.Range()}
			out = append(out, instance{key: "[" + itoa(i) + "]", ctx: (&Ctx{}).with("count", objectOf(map[string]Value{"index": idx}, idx.Range))})
		}
		return out
	}
	if a, ok := body.Attributes["for_each"]; ok {
		var out []instance
		for _, kv := range pairs(s.eval(a.Expr, nil, 0)) {
			key := "[?]"
			if kv[0].IsKnownString() || kv[0].Kind == KNumber {
				key = fmt.Sprintf("[%q]", kv[0].S)
			}
			out = append(out, instance{key: key, ctx: (&Ctx{}).with("each", objectOf(map[string]Value{"key": kv[0], "value": kv[1]}, kv[1].Range))})
		}
		return out
	}
	return []instance{{}}
}

var resourcePolicyTypes = map[string]string{
	"aws_sqs_queue_policy":               "policy",
	"aws_sqs_queue":                      "policy",
	"aws_ecr_repository_policy":          "policy",
	"aws_s3_bucket_policy":               "policy",
	"aws_sns_topic_policy":               "policy",
	"aws_sns_topic":                      "policy",
	"aws_kms_key":                        "policy",
	"aws_secretsmanager_secret":          "policy",
	"aws_ecr_registry_policy":            "policy",
	"aws_cloudwatch_log_resource_policy": "policy_document",
}

func (c *collector) walk(s *Scope) error {
	names := make([]string, 0, len(s.Mod.Calls))
	for n := range s.Mod.Calls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, key := range s.Mod.Order {
		b := s.Mod.Resources[key]
		typ := b.Labels[0]
		for _, in := range s.instances(b.Body) {
			addr := s.Path + key + in.key
			c.resource(s, b, typ, addr, in.ctx)
		}
	}
	for _, n := range names {
		b := s.Mod.Calls[n]
		for _, in := range s.instances(b.Body) {
			kid := s.Child(n, in.key, in.ctx)
			if kid == nil {
				continue
			}
			if err := c.walk(kid); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *collector) docs(s *Scope, owner, attr string, v Value) []*Document {
	var out []*Document
	for _, n := range documentNodes(s.src, v) {
		out = append(out, &Document{Owner: owner, Attr: attr, Policy: iampolicy.FromNode(n), Range: v.Range})
	}
	return out
}

func (c *collector) resource(s *Scope, b *hclsyntax.Block, typ, addr string, ctx *Ctx) {
	body := b.Body
	switch typ {
	case "aws_iam_role", "aws_iam_user", "aws_iam_group":
		role := &Role{Address: addr, Kind: strings.TrimPrefix(typ, "aws_iam_"), Range: b.DefRange()}
		role.Name, _ = s.attr(body, "name", ctx, 0)
		c.res.Roles = append(c.res.Roles, role)
		for _, ib := range s.blocks(body, "inline_policy", ctx, 0) {
			if v, ok := s.attr(ib.body, "policy", ib.ctx, 0); ok {
				for _, d := range c.docs(s, addr, "inline_policy", v) {
					role.Documents = append(role.Documents, d)
					c.res.Documents = append(c.res.Documents, d)
				}
			}
		}
		if v, ok := s.attr(body, "assume_role_policy", ctx, 0); ok {
			for _, d := range c.docs(s, addr, "assume_role_policy", v) {
				d.Trust = true
				role.Trust = d
				c.res.Documents = append(c.res.Documents, d)
			}
		}
		if v, ok := s.attr(body, "managed_policy_arns", ctx, 0); ok {
			for _, arn := range v.Elements() {
				c.attach = append(c.attach, pending{role: symbol(addr+".name", b.DefRange()), arn: arn, owner: addr, rng: arn.Range})
			}
		}
	case "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy":
		field := map[string]string{"aws_iam_role_policy": "role", "aws_iam_user_policy": "user", "aws_iam_group_policy": "group"}[typ]
		pv, ok := s.attr(body, "policy", ctx, 0)
		if !ok {
			return
		}
		rv, _ := s.attr(body, field, ctx, 0)
		for _, d := range c.docs(s, addr, "policy", pv) {
			c.res.Documents = append(c.res.Documents, d)
			c.links = append(c.links, pending{role: rv, doc: d, owner: addr, rng: rv.Range})
		}
	case "aws_iam_policy":
		pv, ok := s.attr(body, "policy", ctx, 0)
		if !ok {
			return
		}
		ds := c.docs(s, addr, "policy", pv)
		for _, d := range ds {
			c.res.Documents = append(c.res.Documents, d)
		}
		if len(ds) > 0 {
			c.policies[addr] = ds[0]
			for i, d := range ds[1:] {
				c.policies[fmt.Sprintf("%s#%d", addr, i+1)] = d
			}
		}
	case "aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment":
		field := map[string]string{"aws_iam_role_policy_attachment": "role", "aws_iam_user_policy_attachment": "user", "aws_iam_group_policy_attachment": "group"}[typ]
		rv, _ := s.attr(body, field, ctx, 0)
		arn, _ := s.attr(body, "policy_arn", ctx, 0)
		c.attach = append(c.attach, pending{role: rv, arn: arn, owner: addr, rng: arn.Range})
	case "aws_iam_policy_attachment":
		arn, _ := s.attr(body, "policy_arn", ctx, 0)
		for _, field := range []string{"roles", "users", "groups"} {
			if rv, ok := s.attr(body, field, ctx, 0); ok {
				for _, r := range rv.Elements() {
					c.attach = append(c.attach, pending{role: r, arn: arn, owner: addr, rng: arn.Range})
				}
			}
		}
	case "aws_iam_role_policy_attachments_exclusive":
		rv, _ := s.attr(body, "role_name", ctx, 0)
		arns, _ := s.attr(body, "policy_arns", ctx, 0)
		for _, arn := range arns.Elements() {
			c.attach = append(c.attach, pending{role: rv, arn: arn, owner: addr, rng: arn.Range})
		}
	}
	if attr, ok := resourcePolicyTypes[typ]; ok {
		if v, ok := s.attr(body, attr, ctx, 0); ok && v.Kind != KNull {
			for _, d := range c.docs(s, addr, attr, v) {
				d.Resource = true
				c.res.Documents = append(c.res.Documents, d)
			}
		}
	}
}

// findRole resolves a role reference: a symbol naming the role resource
// (aws_iam_role.task.name / .id / .arn) or the role's name.
func (c *collector) findRole(v Value) *Role {
	if v.Kind == KList && v.Alt {
		// either branch names the role: a role name or its computed name
		for _, a := range v.List {
			if r := c.findRole(a); r != nil {
				return r
			}
		}
		return nil
	}
	if sym, ok := v.PureSymbol(); ok {
		if i := strings.LastIndex(sym, "."); i > 0 {
			if r := c.res.Role(sym[:i]); r != nil {
				return r
			}
		}
	}
	if v.Kind != KString {
		return nil
	}
	for _, r := range c.res.Roles {
		if r.Name.Kind == KString && r.Name.S == v.S {
			return r
		}
		// an ARN ending in the role's name
		if r.Name.Kind == KString && r.Name.S != "" && strings.HasSuffix(v.S, ":role/"+r.Name.S) {
			return r
		}
	}
	return nil
}

func (c *collector) link() {
	for _, p := range c.links {
		r := c.findRole(p.role)
		if r == nil {
			c.problem(p, "%s grants to %s, which is not a role, user or group in this configuration; its grants cannot be attributed", p.owner, show(p.role))
			continue
		}
		r.Documents = append(r.Documents, p.doc)
	}
	for _, p := range c.attach {
		r := c.findRole(p.role)
		if r == nil {
			c.problem(p, "%s attaches a policy to %s, which is not a role, user or group in this configuration", p.owner, show(p.role))
			continue
		}
		if sym, ok := p.arn.PureSymbol(); ok && strings.HasSuffix(sym, ".arn") {
			addr := strings.TrimSuffix(sym, ".arn")
			if d, ok := c.policies[addr]; ok {
				r.Documents = append(r.Documents, d)
				for i := 1; ; i++ {
					d, ok := c.policies[fmt.Sprintf("%s#%d", addr, i)]
					if !ok {
						break
					}
					r.Documents = append(r.Documents, d)
				}
				continue
			}
		}
		if p.arn.Kind == KString {
			if n, ok := managedPolicy(p.arn.S, p.arn.Range); ok {
				d := &Document{Owner: p.owner, Attr: "policy_arn", Managed: p.arn.S, Policy: iampolicy.FromNode(n), Range: p.arn.Range}
				r.Documents = append(r.Documents, d)
				c.res.Documents = append(c.res.Documents, d)
				continue
			}
		}
		if p.arn.Kind == KString && isAWSManaged(p.arn.S) {
			c.res.Problems = append(c.res.Problems, Problem{Range: p.rng, Address: p.owner, Warn: true,
				Message: fmt.Sprintf("AWS-managed policy %s is not in the vendored set, so what it grants to %s could not be checked", p.arn.S[strings.LastIndex(p.arn.S, "/")+1:], r.Address)})
			continue
		}
		c.problem(p, "%s attaches policy %s to %s, and its statements are unknown (not an aws_iam_policy in this configuration); the role's grants cannot be checked", p.owner, show(p.arn), r.Address)
	}
}

// problem records, at p's place, why p's grant could not be attributed.
func (c *collector) problem(p pending, format string, args ...any) {
	c.res.Problems = append(c.res.Problems, Problem{Range: p.rng, Address: p.owner, Message: fmt.Sprintf(format, args...)})
}

func show(v Value) string {
	switch v.Kind {
	case KString:
		return fmt.Sprintf("%q", v.S)
	case KUnknown:
		return v.S
	}
	return describe(v)
}
