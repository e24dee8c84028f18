package policyrules

import (
	"regexp"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// githubOIDC checks trust policies for GitHub Actions' OIDC provider: the
// audience must be exactly sts.amazonaws.com and the subject must name a
// repository, with a wildcard only as the last part after a ref or
// environment (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/configuring-openid-connect-in-amazon-web-services).
// Without them any repository's workflow can assume the role.
type githubOIDC struct{}

func (githubOIDC) Meta() Meta {
	return Meta{ID: "IAM011", Name: "github-oidc-trust", Severity: Error,
		Summary: "a GitHub OIDC trust does not pin the audience and a repository subject"}
}

const githubIssuer = "token.actions.githubusercontent.com"

// githubSub is a subject that names one repository: repo:OWNER/REPO:REST
// where REST may end in * only after ref:refs/heads/, ref:refs/tags/,
// environment: or pull_request.
var githubSub = regexp.MustCompile(`^repo:[^*?/:]+/[^*?/:]+:(ref:refs/(heads|tags)/[^?]*|environment:[^?]*|pull_request|[^*?]+)$`)

func (githubOIDC) Check(c *Check) {
	c.statements([]DocKind{Trust}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() {
			return
		}
		for _, p := range st.Principal {
			v := p.Value
			if p.Type != "Federated" || !strings.Contains(v.Value, githubIssuer) {
				continue
			}
			aud := st.ConditionOn(githubIssuer + ":aud")
			if len(aud) == 0 {
				c.Report(v.Range, roles(d), "the GitHub OIDC trust has no condition on %s:aud; require StringEquals sts.amazonaws.com", githubIssuer)
			}
			for _, cond := range aud {
				for _, val := range cond.Values {
					if !val.Literal() || val.Value != "sts.amazonaws.com" || cond.Operator.Value != "StringEquals" {
						c.Report(val.Range, roles(d), "the GitHub OIDC audience must be exactly sts.amazonaws.com with StringEquals, not %s %q", cond.Operator.Value, val.Value)
					}
				}
			}
			sub := st.ConditionOn(githubIssuer + ":sub")
			if len(sub) == 0 {
				c.Report(v.Range, roles(d), "the GitHub OIDC trust does not pin %s:sub, so any repository's workflow can assume the role; require repo:OWNER/REPO:ref:refs/heads/BRANCH or repo:OWNER/REPO:environment:NAME", githubIssuer)
			}
			for _, cond := range sub {
				if strings.HasSuffix(cond.Operator.Value, "IfExists") {
					c.Report(cond.Operator.Range, roles(d), "%s on %s:sub passes when the claim is absent; use StringEquals or StringLike", cond.Operator.Value, githubIssuer)
				}
				for _, val := range cond.Values {
					if !val.Literal() {
						continue // IAM008 reports a value it cannot read
					}
					if !githubSub.MatchString(val.Value) {
						c.Report(val.Range, roles(d), "GitHub OIDC subject %q does not pin one repository; use repo:OWNER/REPO:ref:refs/heads/BRANCH or repo:OWNER/REPO:environment:NAME (a * only after the branch, tag or environment prefix)", val.Value)
					}
				}
			}
		}
	})
}
