package policyrules

import (
	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// passRole flags iam:PassRole (also through a wildcard) without a scoped
// resource, or without an iam:PassedToService condition: either lets the
// holder hand any role to any service.
type passRole struct{}

func (passRole) Meta() Meta {
	return Meta{ID: "IAM004", Name: "pass-role", Severity: Error,
		Summary: "iam:PassRole needs named role ARNs and an iam:PassedToService condition"}
}

func (passRole) Check(c *Check) {
	c.statements([]DocKind{Identity}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() || st.HasNotAction || isAdmin(st) {
			return
		}
		denies := c.denies(d)
		var at *iampolicy.Str
		for i, a := range st.Action {
			if !a.Literal() {
				continue
			}
			if iamcatalog.Match(a.Value, "iam:passrole") && !denied(denies, "iam:passrole", st.Resource) {
				at = &st.Action[i]
			}
		}
		if at == nil {
			return
		}
		for _, r := range st.Resource {
			if effectivelyStar(r) {
				c.Report(r.Range, roles(d), "iam:PassRole on %q lets this role pass any role; name the role ARNs", r.Value)
			}
		}
		if st.HasNotResource {
			c.Report(st.Keys["NotResource"], roles(d), "iam:PassRole with NotResource passes every role not listed; name the role ARNs")
		}
		if len(st.ConditionOn("iam:PassedToService")) == 0 {
			c.Report(at.Range, roles(d), "%q without an iam:PassedToService condition lets the role be passed to any service; add the condition (e.g. ecs-tasks.amazonaws.com)", at.Value)
		}
	})
}
