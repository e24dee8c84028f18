package policyrules

import (
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// unresolved reports values that decide a verdict but could not be
// computed: a variable without a value feeding an action, a policy that
// cannot be attributed to a role, an unknown managed policy. The check
// fails closed on them.
type unresolved struct{}

func (unresolved) Meta() Meta {
	return Meta{ID: "IAM008", Name: "unresolved-value", Severity: Error,
		Summary: "a value that decides the verdict could not be resolved"}
}

func (unresolved) Check(c *Check) {
	for _, p := range c.Subject.Problems {
		if p.Warn {
			c.ReportAs(Warning, p.Range, p.Owner, "%s", p.Message)
			continue
		}
		c.Report(p.Range, p.Owner, "%s", p.Message)
	}
	for _, d := range c.Subject.Docs {
		for _, p := range d.Policy.Problems {
			if p.Unresolved {
				c.Report(p.Range, roles(d), "%s", p.Message)
			}
		}
	}
	c.statements([]DocKind{Identity, Resource, Trust}, func(d *Doc, st *iampolicy.Statement) {
		check := func(what string, list []iampolicy.Str) {
			for _, s := range list {
				if unresolvedStr(s) {
					c.Report(s.Range, roles(d), "%s %s could not be resolved; %s", what, describeStr(s), advice(s))
				}
			}
		}
		check("action", st.Action)
		check("action", st.NotAction)
		if st.IsAllow() {
			check("resource", st.Resource)
			check("resource", st.NotResource)
			for _, p := range st.Principal {
				check("principal", []iampolicy.Str{p.Value})
			}
		}
	})
}

func describeStr(s iampolicy.Str) string {
	if s.Unknown {
		return s.Value
	}
	var unk []string
	for _, sym := range s.Symbols {
		if strings.HasPrefix(sym, "?") {
			unk = append(unk, sym[1:])
		}
	}
	return "\"" + s.Value + "\" (unknown: " + strings.Join(unk, ", ") + ")"
}

// advice fits where an unresolved value comes from: a variable can be
// given a value; a registry module or a data source cannot.
func advice(s iampolicy.Str) string {
	from := s.Value
	for _, sym := range s.Symbols {
		if strings.HasPrefix(sym, "?") {
			from = sym[1:]
		}
	}
	switch {
	case strings.Contains(from, "module.") && !strings.Contains(from, "var."):
		return "it comes from a module that is not read; run `terraform init` (or pass --modules-dir) so its outputs can be evaluated"
	case strings.Contains(from, "data."):
		return "it comes from a data source, known only at plan time; check the plan with --plan-json"
	case strings.Contains(from, "var."):
		return "give the variable a value (tfvars or a default) so the grant can be checked"
	}
	return "write it so it can be computed from the configuration, or check the plan with --plan-json"
}
