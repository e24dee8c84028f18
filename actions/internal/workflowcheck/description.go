package workflowcheck

import "strings"

// description: every input and output of an action says what it is; the
// marketplace page and the workflow editor show nothing else.
type description struct{}

func (description) Name() string    { return "input-description" }
func (description) Summary() string { return "every action input and output has a description" }

func (description) Action(c *Check, a *Action) {
	for _, kind := range []string{"inputs", "outputs"} {
		_, m := Get(a.Root, kind)
		for _, kv := range Pairs(m) {
			if _, d := Get(kv.V, "description"); d == nil || strings.TrimSpace(d.Value) == "" {
				c.Report(a.File, kv.K.Line, "%s %q has no description", strings.TrimSuffix(kind, "s"), kv.K.Value)
			}
		}
	}
}
