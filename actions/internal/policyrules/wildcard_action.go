package policyrules

import (
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// wildcardAction flags Allow actions with * or ?, whole-service (s3:*) or
// partial (dynamodb:Get*, *Item, PutIte?), matched case-insensitively. A
// Deny subtracts only what it fully covers; what remains is reported.
type wildcardAction struct{}

func (wildcardAction) Meta() Meta {
	return Meta{ID: "IAM001", Name: "wildcard-action", Severity: Error,
		Summary: "an Allow grants actions by wildcard; list the actions the role needs"}
}

func (wildcardAction) Check(c *Check) {
	c.statements([]DocKind{Identity, Resource}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() {
			return
		}
		denies := c.denies(d)
		for _, a := range st.Action {
			if !a.Literal() || !iamcatalog.IsWildcard(a.Value) {
				continue
			}
			left := c.expand(a, st, denies)
			switch {
			case len(left) == 0:
				// nothing left, or nothing matched (unknown-action says so)
			case len(left) == 1:
				c.ReportAs(Warning, a.Range, roles(d), "%q is a wildcard that today grants only %s; write the action out so new actions are not granted silently", a.Value, c.Catalog.Display(left[0]))
			case a.Value == "*" && allResources(st):
				// one finding for an administrator statement, not one per rule
				c.Report(a.Range, roles(d), "\"*\" on every resource is full administrator access (%d actions, iam:PassRole included); list only the actions and resources needed", len(left))
			default:
				c.Report(a.Range, roles(d), "%q grants %d actions (%s); list only the actions needed", a.Value, len(left), c.sample(left, 4))
			}
		}
	})
}

// sample names up to n actions in AWS's case (the catalogue keeps them
// lower-case for matching).
func (c *Check) sample(acts []string, n int) string {
	more := ""
	if len(acts) > n {
		acts, more = acts[:n], ", …"
	}
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = c.Catalog.Display(a)
	}
	return strings.Join(out, ", ") + more
}

// allResources reports Resource "*" (an administrator statement when the
// action is "*" too).
func allResources(st *iampolicy.Statement) bool {
	for _, r := range st.Resource {
		if r.Literal() && r.Value == "*" {
			return true
		}
	}
	return false
}

// isAdmin reports Allow "*" on "*": IAM001 reports it once, so the rules
// that would each restate part of it (IAM003, IAM004) stay silent.
func isAdmin(st *iampolicy.Statement) bool {
	if !st.IsAllow() || !allResources(st) {
		return false
	}
	for _, a := range st.Action {
		if a.Literal() && a.Value == "*" {
			return true
		}
	}
	return false
}
