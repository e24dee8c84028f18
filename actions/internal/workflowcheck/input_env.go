package workflowcheck

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
)

// inputEnv: composite actions do not receive INPUT_* variables on their own,
// so every input is mapped into a step's env under the name gha.Parse reads,
// and only declared inputs are referenced.
type inputEnv struct{}

func (inputEnv) Name() string { return "input-env" }
func (inputEnv) Summary() string {
	return "every composite input mapped to INPUT_<NAME>: ${{ inputs.<name> }}"
}

func (inputEnv) Action(c *Check, a *Action) {
	if !a.Composite {
		return
	}
	mapped := map[string]bool{}
	for _, s := range a.Steps {
		_, env := Get(s.Node, "env")
		for _, kv := range Pairs(env) {
			m := inputEnvRe.FindStringSubmatch(strings.TrimSpace(kv.V.Value))
			switch {
			case m != nil && gha.EnvName(m[1]) == kv.K.Value:
				mapped[m[1]] = true
			case m != nil:
				c.Report(a.File, kv.K.Line, "env %s carries inputs.%s; the Go main reads it as %s", kv.K.Value, m[1], gha.EnvName(m[1]))
			case strings.HasPrefix(kv.K.Value, "INPUT_"):
				c.Report(a.File, kv.K.Line, "env %s must be exactly ${{ inputs.<name> }} of the input it is named for", kv.K.Value)
			}
		}
	}
	for _, name := range sortedKeys(a.Inputs) {
		if !mapped[name] {
			c.Report(a.File, a.Inputs[name].Line,
				"input %q is not mapped into a step env as %s: ${{ inputs.%s }} (composite actions get no INPUT_* variables on their own)",
				name, gha.EnvName(name), name)
		}
	}
	WalkScalars(a.Root, func(s *yaml.Node) {
		for _, e := range exprs(s.Value) {
			for _, m := range inputRefRe.FindAllStringSubmatch(e, -1) {
				if _, ok := a.Inputs[m[1]]; !ok {
					c.Report(a.File, s.Line, "inputs.%s is not a declared input", m[1])
				}
			}
		}
	})
}
