package workflowcheck

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// outputs: steps.<id>.outputs.<name> and needs.<job>.outputs.<name> refer to
// a step, job and output that exist; an unknown one is the empty string at
// run time, silently.
type outputs struct{}

func (outputs) Name() string { return "outputs" }
func (outputs) Summary() string {
	return "steps.* and needs.* outputs name steps, jobs and outputs that exist"
}

func (outputs) Action(c *Check, a *Action) {
	if !a.Composite {
		return
	}
	ids := stepIDs(a.Steps)
	WalkScalars(a.Root, func(s *yaml.Node) {
		for _, e := range exprs(s.Value) {
			for _, m := range stepOutRe.FindAllStringSubmatch(e, -1) {
				if ids[m[1]] == nil {
					c.Report(a.File, s.Line, "steps.%s: no step has id %q", m[1], m[1])
				}
			}
		}
	})
}

func (outputs) Job(c *Check, j *Job) {
	wf := j.Workflow
	// Each job's declared outputs; nil for a reusable workflow call without
	// outputs: (its outputs are its own business).
	jobOutputs := map[string]map[string]bool{}
	for _, o := range wf.Jobs {
		outs := map[string]bool{}
		_, on := Get(o.Node, "outputs")
		for _, kv := range Pairs(on) {
			outs[kv.K.Value] = true
		}
		if _, u := Get(o.Node, "uses"); u != nil && on == nil {
			outs = nil
		}
		jobOutputs[o.Name.Value] = outs
	}
	ids := stepIDs(j.Steps)
	needs := j.Needs()
	WalkScalars(j.Node, func(s *yaml.Node) {
		for _, e := range exprs(s.Value) {
			for _, m := range stepOutRe.FindAllStringSubmatch(e, -1) {
				st, ok := ids[m[1]]
				if !ok {
					c.Report(wf.File, s.Line, "steps.%s: job %s has no step with id %q", m[1], j.Name.Value, m[1])
					continue
				}
				u := st.Uses()
				if u == nil || !strings.HasPrefix(u.Value, "./") {
					continue // run steps and third-party actions: outputs unknown here
				}
				if a := c.Repo.LocalAction(u.Value); a != nil && a.Outputs[m[2]] == nil {
					c.Report(wf.File, s.Line, "steps.%s.outputs.%s: %s declares no output %q", m[1], m[2], a.File, m[2])
				}
			}
			for _, m := range needsOutRe.FindAllStringSubmatch(e, -1) {
				outs, exists := jobOutputs[m[1]]
				switch {
				case !exists || !needs[m[1]]:
					c.Report(wf.File, s.Line, "needs.%s: job %s does not list %q in needs", m[1], j.Name.Value, m[1])
				case outs != nil && !outs[m[2]]:
					c.Report(wf.File, s.Line, "needs.%s.outputs.%s: job %s declares no output %q", m[1], m[2], m[1], m[2])
				}
			}
		}
	})
}
