package policyrules

import (
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// publicPrincipal flags resource and trust policies that allow everyone
// ("*" or {"AWS": "*"}) without a condition that narrows who, and GitHub
// OIDC trusts that do not pin the token's subject.
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
			if v.Literal() && v.Value == "*" && (p.Type == "*" || p.Type == "AWS") {
				if !narrowed(st) {
					c.Report(v.Range, roles(d), "%s allows any AWS principal; add a condition such as aws:SourceArn, aws:SourceAccount or aws:PrincipalOrgID, or name the principals", d.Owner)
				}
			}
			if p.Type == "Federated" && v.Literal() && strings.Contains(v.Value, "token.actions.githubusercontent.com") {
				if len(st.ConditionOn("token.actions.githubusercontent.com:sub")) == 0 {
					c.Report(v.Range, roles(d), "the GitHub OIDC trust does not pin token.actions.githubusercontent.com:sub, so any repository's workflow can assume the role")
				}
			}
		}
	})
}

func narrowed(st *iampolicy.Statement) bool {
	for _, k := range narrowing {
		if len(st.ConditionOn(k)) > 0 {
			return true
		}
	}
	return false
}
