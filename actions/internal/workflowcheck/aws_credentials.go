package workflowcheck

import "strings"

// awsCredentials: AWS access is OIDC only, the role named by a repository or
// environment variable, never long-lived keys or secrets.
type awsCredentials struct{}

func (awsCredentials) Name() string { return "aws-credentials" }
func (awsCredentials) Summary() string {
	return "configure-aws-credentials with role-to-assume from vars.*, never keys or secrets"
}

func (awsCredentials) Step(c *Check, s *Step) {
	u := s.Uses()
	if u == nil || !strings.HasPrefix(u.Value, "aws-actions/configure-aws-credentials@") {
		return
	}
	_, with := Get(s.Node, "with")
	_, role := Get(with, "role-to-assume")
	if role == nil {
		c.Report(s.File, s.Node.Line, "configure-aws-credentials without role-to-assume: use OIDC")
	} else if !varsOnlyRe.MatchString(strings.TrimSpace(role.Value)) {
		c.Report(s.File, role.Line, "role-to-assume %q: take it from a repository or environment variable (${{ vars.NAME }})", role.Value)
	}
	for _, kv := range Pairs(with) {
		switch {
		case kv.K.Value == "aws-access-key-id" || kv.K.Value == "aws-secret-access-key" || kv.K.Value == "aws-session-token":
			c.Report(s.File, kv.K.Line, "%s: long-lived keys; assume a role through OIDC instead", kv.K.Value)
		case strings.Contains(kv.V.Value, "secrets."):
			c.Report(s.File, kv.K.Line, "%s comes from a secret; AWS access here is OIDC only", kv.K.Value)
		}
	}
}
