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
		if !st.IsAllow() || st.HasNotAction || isAdmin(st) {
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
					// without a condition nothing can scope them: enough to name
					break actions // enough to name in the message
				}
			}
		}
		if len(scopable) == 0 || c.scopedByCondition(st, scopable) {
			return
		}
		for _, r := range st.Resource {
			if effectivelyStar(r) {
				c.Report(r.Range, roles(d), "resource %q on actions that can be scoped (%s); name the resources' ARNs", r.Value, c.sample(scopable, 4))
			}
		}
	})
}

// scopedByCondition reports whether every scopable action is limited by a
// condition that fixes which resources it can touch, on a key the
// catalogue says the action supports (AWS's service authorization
// reference): resource or request tags (aws:ResourceTag/..., the pattern
// AWS documents for ec2:RunInstances), iam:AWSServiceName on
// iam:CreateServiceLinkedRole, iam:PassedToService, the cluster of
// ecs:ListTasks (Fargate tasks have no ARN to name before they run). The
// operator must match exactly (no ...IfExists, true when the key is
// absent; no negation) and every value must be a literal other than "*".
func (c *Check) scopedByCondition(st *iampolicy.Statement, actions []string) bool {
	for _, a := range actions {
		act, known := c.Catalog.Lookup(a)
		if !known {
			return false
		}
		pfx := a[:strings.IndexByte(a+":", ':')]
		ok := false
		for _, cond := range st.Conditions {
			op := cond.Operator.Value
			if !cond.Operator.Literal() {
				continue
			}
			k := strings.ToLower(cond.Key.Value)
			if op == "Null" && tagKey(k) && act.SupportsCondition(k) && allFalse(cond.Values) {
				// the resource must carry this tag (the AWS Load Balancer
				// Controller's pattern): only resources tagged for it qualify
				ok = true
				continue
			}
			switch op {
			case "StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals", "ArnLike":
			default:
				continue
			}
			if !scopingKey(k, pfx) || !act.SupportsCondition(k) {
				continue
			}
			literal := len(cond.Values) > 0
			for _, v := range cond.Values {
				// a resource's ARN (a symbol) is a fixed value; an unknown is not
				if v.Unknown || hasUnknown(v) || strings.Trim(v.Value, "*?") == "" {
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

// scopingKey reports a condition key whose value picks the resources an
// action may touch, as opposed to one about the request (source IP, MFA).
func scopingKey(k, pfx string) bool {
	for _, p := range []string{"aws:resourcetag/", "aws:requesttag/", pfx + ":resourcetag/", pfx + ":requesttag/"} {
		if strings.HasPrefix(k, p) && len(k) > len(p) {
			return true
		}
	}
	switch k {
	case "iam:awsservicename", "iam:passedtoservice", pfx + ":cluster":
		return true
	}
	return false
}

func hasUnknown(s iampolicy.Str) bool {
	for _, sym := range s.Symbols {
		if strings.HasPrefix(sym, "?") {
			return true
		}
	}
	return false
}

func tagKey(k string) bool {
	return strings.HasPrefix(k, "aws:resourcetag/") || strings.HasPrefix(k, "aws:requesttag/")
}

func allFalse(vals []iampolicy.Str) bool {
	for _, v := range vals {
		if !v.Literal() || v.Value != "false" {
			return false
		}
	}
	return len(vals) > 0
}
