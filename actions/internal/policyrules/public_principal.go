package policyrules

import (
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// publicPrincipal flags resource and trust policies that allow everyone
// ("*" or {"AWS": "*"}) without a condition that narrows who.
type publicPrincipal struct{}

func (publicPrincipal) Meta() Meta {
	return Meta{ID: "IAM005", Name: "public-principal", Severity: Error,
		Summary: "a resource or trust policy allows any principal without a narrowing condition"}
}

// narrowing are condition keys that limit who a "*" principal can be.
var narrowing = []string{"aws:SourceArn", "aws:SourceAccount", "aws:SourceOwner", "aws:SourceVpc", "aws:SourceVpce",
	"aws:PrincipalOrgID", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:SourceOrgID", "aws:PrincipalOrgPaths", "aws:SourceOrgPaths"}

func (publicPrincipal) Check(c *Check) {
	c.statements([]DocKind{Resource, Trust}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() {
			return
		}
		for _, p := range st.Principal {
			v := p.Value
			if v.Literal() && v.Value == "*" && (p.Type == "*" || p.Type == "AWS") && !narrowed(st) {
				c.Report(v.Range, roles(d), "%s allows any AWS principal; add a condition such as aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID with exact values (not \"*\", not an ...IfExists operator), or name the principals", d.Owner)
			}
		}
	})
}

// narrowed reports a condition on a narrowing key that really narrows: an
// operator that is not ...IfExists (true when the key is absent, as for
// any caller outside AWS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists)
// and values of which none is "*" or unknown.
func narrowed(st *iampolicy.Statement) bool {
	for _, k := range narrowing {
		for _, cond := range st.ConditionOn(k) {
			if narrowingValues(cond) {
				return true
			}
		}
	}
	return false
}

func narrowingValues(cond iampolicy.Condition) bool {
	op := cond.Operator.Value
	if !cond.Operator.Literal() || strings.HasSuffix(op, "IfExists") || strings.HasPrefix(op, "ForAnyValue:") ||
		strings.Contains(op, "Not") || op == "Null" {
		return false
	}
	if len(cond.Values) == 0 {
		return false
	}
	for _, v := range cond.Values {
		if v.Unknown || strings.Trim(v.Value, "*?") == "" {
			return false
		}
	}
	return true
}
