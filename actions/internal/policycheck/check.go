// Package policycheck runs the least-privilege check end to end: it
// evaluates Terraform directories (or a `terraform show -json` plan),
// resolves the contract in policies/, analyses the services' Go code, and
// applies every rule in policyrules.
package policycheck

import (
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"sort"

	"github.com/conveyor-dev/conveyor/actions/internal/codecalls"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcontract"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	"github.com/conveyor-dev/conveyor/actions/internal/tfeval"
	"github.com/hashicorp/hcl/v2"
)

// Finding is one rule violation.
type Finding = policyrules.Finding

// Code is the AWS calls of each service main, as the rules compare them.
type Code struct {
	Dir      string
	Services map[string][]policyrules.CodeCall
}

// LoadCode analyses the Go mains under dir.
func LoadCode(dir string) (*Code, error) {
	svcs, err := codecalls.Analyze(dir)
	if err != nil {
		return nil, err
	}
	c := &Code{Dir: dir, Services: map[string][]policyrules.CodeCall{}}
	for name, s := range svcs {
		for _, call := range s.Calls {
			for _, a := range call.Actions {
				c.Services[name] = append(c.Services[name], policyrules.CodeCall{Action: a, Operation: call.Operation, Range: goRange(call.Pos)})
			}
		}
		if _, ok := c.Services[name]; !ok {
			c.Services[name] = []policyrules.CodeCall{}
		}
	}
	return c, nil
}

func goRange(p token.Position) hcl.Range {
	pos := hcl.Pos{Line: p.Line, Column: p.Column, Byte: p.Offset}
	return hcl.Range{Filename: p.Filename, Start: pos, End: pos}
}

// FindContract looks for a policies/ directory holding *.hcl in dir and
// its parents; "" if there is none.
func FindContract(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(abs, "policies")
		if m, _ := filepath.Glob(filepath.Join(p, "*.hcl")); len(m) > 0 {
			return p
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return ""
		}
		abs = parent
	}
}

// Stats describe what a check looked at, for the summary line.
type Stats struct {
	Roles            int
	Documents        int // identity and trust documents
	ResourcePolicies int
	Unresolved       int // IAM008 findings
	Suppressed       int
}

// CheckDir evaluates one Terraform root module and applies every rule.
// contract and code may be nil. An error means input that cannot be
// parsed (exit 2).
func CheckDir(dir string, contract *iamcontract.Contract, code *Code, cat *iamcatalog.Catalog) ([]Finding, Stats, error) {
	return checkDir(dir, tfeval.Options{}, contract, code, cat)
}

func checkDir(dir string, opt tfeval.Options, contract *iamcontract.Contract, code *Code, cat *iamcatalog.Catalog) ([]Finding, Stats, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, Stats{}, fmt.Errorf("%s is not a directory of Terraform files", dir)
	}
	res, err := tfeval.EvaluateWith(dir, opt)
	if err != nil {
		return nil, Stats{}, err
	}
	subj := SubjectOf(res)
	if contract != nil {
		subj.Contract = contract.Resolve(res.Root)
	}
	if code != nil {
		subj.Code = code.Services
		subj.CodeDir = code.Dir
	}
	if cat == nil {
		cat = iamcatalog.Default()
	}
	fs := policyrules.Run(subj, cat)
	return fs, subjectStats(subj, fs), nil
}

// SubjectOf turns an evaluation into what the rules read.
func SubjectOf(res *tfeval.Result) *policyrules.Subject {
	s := &policyrules.Subject{}
	docs := map[*tfeval.Document]*policyrules.Doc{}
	conv := func(d *tfeval.Document) *policyrules.Doc {
		if x, ok := docs[d]; ok {
			return x
		}
		kind := policyrules.Identity
		switch {
		case d.Trust:
			kind = policyrules.Trust
		case d.Resource:
			kind = policyrules.Resource
		}
		x := &policyrules.Doc{Owner: d.Owner, Kind: kind, Managed: d.Managed, Policy: d.Policy}
		docs[d] = x
		s.Docs = append(s.Docs, x)
		return x
	}
	for _, d := range res.Documents {
		conv(d)
	}
	for _, r := range res.Roles {
		pr := &policyrules.Role{Address: r.Address, Range: r.Range}
		for _, d := range r.Documents {
			x := conv(d)
			x.Roles = appendUnique(x.Roles, r.Address)
			pr.Docs = append(pr.Docs, x)
		}
		if r.Trust != nil {
			x := conv(r.Trust)
			x.Roles = appendUnique(x.Roles, r.Address)
		}
		s.Roles = append(s.Roles, pr)
	}
	for _, p := range res.Problems {
		s.Problems = append(s.Problems, policyrules.Problem{Range: p.Range, Owner: p.Address, Message: p.Message, Warn: p.Warn})
	}
	for _, u := range res.Unread {
		s.Unread = append(s.Unread, policyrules.Unread{Owner: u.Address, What: u.What, Range: u.Range})
	}
	for _, d := range s.Docs {
		sort.Strings(d.Roles)
	}
	return s
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// HasErrors reports whether any finding is error-level and not
// suppressed.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == policyrules.Error && f.Suppressed == "" {
			return true
		}
	}
	return false
}
