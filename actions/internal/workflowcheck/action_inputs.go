package workflowcheck

import "strings"

// actionInputs: a call of a local action gives only inputs it declares (the
// runner warns and drops the others) and every required input without a
// default.
type actionInputs struct{}

func (actionInputs) Name() string { return "action-inputs" }
func (actionInputs) Summary() string {
	return "local actions get only declared inputs, and every required one"
}

func (actionInputs) Step(c *Check, s *Step) {
	u := s.Uses()
	if u == nil {
		return
	}
	a := c.Repo.LocalAction(u.Value)
	if a == nil {
		return
	}
	given := map[string]bool{}
	_, with := Get(s.Node, "with")
	for _, kv := range Pairs(with) {
		given[kv.K.Value] = true
		if _, ok := a.Inputs[kv.K.Value]; !ok {
			c.Report(s.File, kv.K.Line, "%s declares no input %q (it has: %s)", a.File, kv.K.Value, strings.Join(sortedKeys(a.Inputs), ", "))
		}
	}
	for _, name := range sortedKeys(a.Inputs) {
		in := a.Inputs[name]
		if in.Required && !in.HasDefault && !given[name] {
			c.Report(s.File, u.Line, "%s: required input %q is not given", u.Value, name)
		}
	}
}
