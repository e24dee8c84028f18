package policyrules

import (
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// resourceStar flags Resource "*" (or effectively "*", such as
// arn:aws:dynamodb:*:*:table/*) on actions that can be scoped to a
// resource. Actions that accept only "*" (ecr:GetAuthorizationToken) pass.
type resourceStar struct{}

func (resourceStar) Meta() Meta {
	return Meta{ID: "IAM003", Name: "resource-star", Severity: Error,
		Summary: "an Allow grants scopable actions on every resource"}
}

func (resourceStar) Check(c *Check) {
	c.statements([]DocKind{Identity}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() || st.HasNotAction {
			return
		}
		denies := c.denies(d)
		var scopable []string
	actions:
		for _, a := range st.Action {
			if !a.Literal() {
				continue
			}
			for _, x := range c.expand(a, st, denies) {
				if act, ok := c.Catalog.Lookup(x); ok && act.StarOnly() {
					continue
				}
				// unknown actions count as scopable: fail closed
				scopable = append(scopable, x)
				if len(scopable) > 4 && len(st.Conditions) == 0 {
					break actions // enough to name in the message
				}
			}
		}
		if len(scopable) == 0 || scopedByCondition(st, scopable) {
			return
		}
		for _, r := range st.Resource {
			if effectivelyStar(r) {
				c.Report(r.Range, roles(d), "resource %q on actions that can be scoped (%s); name the resources' ARNs", r.Value, sample(scopable, 4))
			}
		}
	})
}

// scopedByCondition reports whether every scopable action is limited by a
// condition on a resource-identifying key of its own service (ecs:cluster,
// aws:ResourceTag/..., <service>:ResourceTag/...) with an exact operator
// and literal values. ecs:ListTasks on Fargate has no resource ARN to name;
// the cluster condition is how it is scoped. Other conditions, and
// ...IfExists operators (true when the key is absent), do not count.
func scopedByCondition(st *iampolicy.Statement, actions []string) bool {
	for _, a := range actions {
		pfx := a[:strings.IndexByte(a+":", ':')]
		ok := false
		for _, c := range st.Conditions {
			op := c.Operator.Value
			if !c.Operator.Literal() || strings.HasSuffix(op, "IfExists") {
				continue
			}
			switch op {
			case "StringEquals", "ArnEquals", "ArnLike", "StringLike":
			default:
				continue
			}
			k := strings.ToLower(c.Key.Value)
			if k != pfx+":cluster" && !strings.HasPrefix(k, "aws:resourcetag/") && !strings.HasPrefix(k, pfx+":resourcetag/") {
				continue
			}
			literal := len(c.Values) > 0
			for _, v := range c.Values {
				if v.Unknown || v.Value == "*" || v.Value == "" {
					literal = false
				}
			}
			ok = ok || literal
		}
		if !ok {
			return false
		}
	}
	return true
}
