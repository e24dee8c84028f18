package workflowcheck

import "strings"

// checkoutCredentials: later steps build and run the repository's code, so
// the job's token must not sit in .git/config for them to read.
type checkoutCredentials struct{}

func (checkoutCredentials) Name() string { return "checkout-credentials" }
func (checkoutCredentials) Summary() string {
	return "actions/checkout with persist-credentials: false"
}

func (checkoutCredentials) Step(c *Check, s *Step) {
	u := s.Uses()
	if s.Job == nil || u == nil || !strings.HasPrefix(u.Value, "actions/checkout@") {
		return
	}
	_, with := Get(s.Node, "with")
	if _, pc := Get(with, "persist-credentials"); pc == nil || pc.Value != "false" {
		c.Report(s.File, u.Line, "actions/checkout without persist-credentials: false leaves the job's token in .git/config")
	}
}
