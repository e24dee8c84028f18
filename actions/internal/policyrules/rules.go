// Package policyrules holds the least-privilege rules, one per file. Each
// rule has an id, a severity and a table test; every finding carries the
// range of the exact action or resource string it is about.
package policyrules

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
)

// Severity of a finding. Errors fail the check.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one violation at one place.
type Finding struct {
	Rule     string    `json:"rule"`
	Name     string    `json:"name"`
	Severity Severity  `json:"severity"`
	Role     string    `json:"role,omitempty"`
	Message  string    `json:"message"`
	Range    hcl.Range `json:"-"`
	// Instances are the other module or resource instances the same
	// finding holds for, at the same place.
	Instances []string `json:"instances,omitempty"`
	// Suppressed is the reason of an inline policy-check:ignore comment.
	Suppressed string `json:"suppressed,omitempty"`
}

// Meta describes a rule.
type Meta struct {
	ID       string
	Name     string
	Severity Severity
	Summary  string
}

// Rule checks a Subject.
type Rule interface {
	Meta() Meta
	Check(c *Check)
}

// DocKind says how a document grants.
type DocKind uint8

const (
	Identity DocKind = iota // attached to a role, user or group
	Resource                // a resource policy: queue, repository, bucket
	Trust                   // a role's trust (assume-role) policy
)

// Doc is one policy document and the roles it grants to.
type Doc struct {
	Owner   string // address of the resource that holds it
	Kind    DocKind
	Managed string // AWS-managed policy ARN, if any
	Policy  iampolicy.Policy
	Roles   []string
}

// Role is a role's effective set of identity documents.
type Role struct {
	Address string
	Range   hcl.Range
	Docs    []*Doc
	// Pending is set when some of the role's policies are not known yet
	// (a plan whose policy embeds an ARN the same apply creates). What is
	// known is still checked for excess; a missing grant cannot be told
	// from a pending one, so that direction is skipped and IAM008 says why.
	Pending bool
}

// Problem is an unresolved value found by the evaluator.
type Problem struct {
	Range   hcl.Range
	Owner   string
	Message string
	Warn    bool // a gap outside the user's configuration: a warning
}

// ContractAllow is one allow block of the contract, resolved.
type ContractAllow struct {
	Actions   []iampolicy.Str
	Resources []iampolicy.Str
	Range     hcl.Range
}

// ContractRole is what one role is meant to do.
type ContractRole struct {
	Address string
	Code    string // service name whose Go code uses this role ("" if none)
	Range   hcl.Range
	Allows  []ContractAllow
}

// CodeCall is one AWS SDK call the Go code makes, as an IAM action.
type CodeCall struct {
	Action    string // e.g. sqs:DeleteMessage
	Operation string // e.g. DeleteMessageBatch
	Range     hcl.Range
}

// Unread is a resource that grants in a form that is not read.
type Unread struct {
	Owner, What string
	Range       hcl.Range
}

// Subject is everything the rules look at.
type Subject struct {
	Unread   []Unread
	Docs     []*Doc
	Roles    []*Role
	Problems []Problem
	// Contract is nil when no contract was given: only generic rules run.
	Contract []ContractRole
	// Code maps a service name to its calls; nil when --code was not given.
	Code map[string][]CodeCall
	// CodeDir is the --code folder, named when a contract's service is missing from it.
	CodeDir string
}

// Check is the context a rule runs in.
type Check struct {
	Subject  *Subject
	Catalog  *iamcatalog.Catalog
	meta     Meta
	findings *[]Finding
	cur      *Doc // the document statements() is walking
}

// Report adds a finding at a range with the rule's severity.
func (c *Check) Report(rng hcl.Range, role, format string, args ...any) {
	c.ReportAs(c.meta.Severity, rng, role, format, args...)
}

// ReportAs adds a finding with an explicit severity. Inside an
// AWS-managed policy a finding is a warning that names the policy: the
// user cannot change AWS's document, only replace it with their own.
func (c *Check) ReportAs(sev Severity, rng hcl.Range, role, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.cur != nil && c.cur.Managed != "" {
		sev = Warning
		msg = "AWS-managed policy " + c.cur.Managed[strings.LastIndex(c.cur.Managed, "/")+1:] + ": " + msg +
			"; replace it with a customer-managed policy to narrow it"
	}
	*c.findings = append(*c.findings, Finding{Rule: c.meta.ID, Name: c.meta.Name, Severity: sev, Role: role,
		Message: msg, Range: rng})
}

// All is every rule, in id order.
func All() []Rule {
	return []Rule{
		wildcardAction{}, notAction{}, resourceStar{}, passRole{}, publicPrincipal{},
		unknownAction{}, malformed{}, unresolved{}, contractRule{}, codeRule{},
		githubOIDC{}, eksOIDC{}, unreadGrant{}, invalidSuppression{},
	}
}

// Run applies every rule and returns findings sorted by file and position.
func Run(s *Subject, cat *iamcatalog.Catalog, rules ...Rule) []Finding {
	if len(rules) == 0 {
		rules = All()
	}
	var out []Finding
	for _, r := range rules {
		c := &Check{Subject: s, Catalog: cat, meta: r.Meta(), findings: &out}
		r.Check(c)
	}
	out = dedupe(out)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Range, out[j].Range
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Start.Line != b.Start.Line {
			return a.Start.Line < b.Start.Line
		}
		if a.Start.Column != b.Start.Column {
			return a.Start.Column < b.Start.Column
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// instanceKeyRE matches the instance keys of module and resource
// addresses: module.x["a"], aws_iam_role.r[0].
var instanceKeyRE = regexp.MustCompile(`\[("[^"]*"|\d+|\?)\]`)

// dedupe keeps one finding per rule, place and message: the same fault in
// every instance of a module or resource is one finding whose Instances
// list the others.
func dedupe(in []Finding) []Finding {
	seen := map[string]int{}
	var out []Finding
	for _, f := range in {
		msg := instanceKeyRE.ReplaceAllString(f.Message, "[*]")
		if m, ok := strings.CutPrefix(msg, "AWS-managed policy "); ok && strings.Contains(m, ": ") {
			// every finding of a rule inside one AWS-managed policy sits on
			// the ARN: one is enough to tell the user what it grants
			msg, _, _ = strings.Cut(msg, ": ")
		}
		k := fmt.Sprintf("%s|%s|%d|%d|%s", f.Rule, f.Range.Filename, f.Range.Start.Line, f.Range.Start.Column, msg)
		if i, ok := seen[k]; ok {
			if f.Role != "" && f.Role != out[i].Role && !slices.Contains(out[i].Instances, f.Role) {
				out[i].Instances = append(out[i].Instances, f.Role)
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, f)
	}
	return out
}

// roles names the roles a document grants to, for a finding's role field.
func roles(d *Doc) string { return strings.Join(d.Roles, ", ") }

// statements walks every statement of every document of a kind.
func (c *Check) statements(kinds []DocKind, fn func(d *Doc, st *iampolicy.Statement)) {
	for _, d := range c.Subject.Docs {
		ok := false
		for _, k := range kinds {
			ok = ok || d.Kind == k
		}
		if !ok {
			continue
		}
		c.cur = d
		for i := range d.Policy.Statements {
			fn(d, &d.Policy.Statements[i])
		}
		c.cur = nil
	}
}

// invalidSuppression has no check of its own: policycheck reports an
// inline policy-check:ignore without a reason under its id.
type invalidSuppression struct{}

func (invalidSuppression) Meta() Meta {
	return Meta{ID: "IAM014", Name: "invalid-suppression", Severity: Error,
		Summary: "a policy-check:ignore comment gives no reason"}
}

func (invalidSuppression) Check(*Check) {}

// InvalidSuppression describes the rule an unjustified suppression is
// reported under.
func InvalidSuppression() Meta { return invalidSuppression{}.Meta() }
