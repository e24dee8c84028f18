package workflowcheck

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// wiring: outputs are handed on under the name they were written with.
//
//   - In an action.yml, an output that is exactly one step output has that
//     step output's name: the Go main writes what action.yml declares.
//   - A job output, or a local action's input, that reads one output of a
//     producer (a step's action, or a job) which also declares an output of
//     the job output's or input's own name, reads that one. An image-map
//     wired to a producer's digest or revision passes every syntax check and
//     breaks the deploy at run time.
type wiring struct{}

func (wiring) Name() string { return "wiring" }
func (wiring) Summary() string {
	return "an output or input forwarding another output keeps its name"
}

var soleOutputRe = regexp.MustCompile(`^\$\{\{\s*(steps|needs)\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)\s*\}\}$`)

// crossed reports value when it reads output m of a producer whose outputs
// (nil: unknown) include name too.
func crossed(c *Check, file, what string, name, value *yaml.Node, producerOutputs func(kind, id string) map[string]bool) {
	m := soleOutputRe.FindStringSubmatch(strings.TrimSpace(value.Value))
	if m == nil || m[3] == name.Value {
		return
	}
	if outs := producerOutputs(m[1], m[2]); outs != nil && !outs[name.Value] {
		return
	}
	c.Report(file, value.Line, "%s %q reads %s.%s.outputs.%s, but %s.%s has an output %q too: forward that one (or rename so that the names say what flows)",
		what, name.Value, m[1], m[2], m[3], m[1], m[2], name.Value)
}

func (wiring) Action(c *Check, a *Action) {
	_, outs := Get(a.Root, "outputs")
	for _, kv := range Pairs(outs) {
		if _, v := Get(kv.V, "value"); v != nil {
			crossed(c, a.File, "output", kv.K, v, func(string, string) map[string]bool { return nil })
		}
	}
}

// producers returns the declared outputs of steps.<id> (a local action) and
// needs.<job> in job j; nil for an unknown producer.
func producers(c *Check, j *Job) func(kind, id string) map[string]bool {
	ids := stepIDs(j.Steps)
	return func(kind, id string) map[string]bool {
		outs := map[string]bool{}
		switch kind {
		case "steps":
			s := ids[id]
			if s == nil || s.Uses() == nil {
				return map[string]bool{} // run steps: nothing known, nothing crossed
			}
			a := c.Repo.LocalAction(s.Uses().Value)
			if a == nil {
				return map[string]bool{}
			}
			for k := range a.Outputs {
				outs[k] = true
			}
		case "needs":
			p := j.Workflow.Job(id)
			if p == nil {
				return map[string]bool{}
			}
			_, on := Get(p.Node, "outputs")
			for _, kv := range Pairs(on) {
				outs[kv.K.Value] = true
			}
		}
		return outs
	}
}

func (wiring) Job(c *Check, j *Job) {
	_, outs := Get(j.Node, "outputs")
	for _, kv := range Pairs(outs) {
		crossed(c, j.Workflow.File, "job output", kv.K, kv.V, producers(c, j))
	}
	for _, s := range j.Steps {
		u := s.Uses()
		if u == nil || c.Repo.LocalAction(u.Value) == nil {
			continue
		}
		_, with := Get(s.Node, "with")
		for _, kv := range Pairs(with) {
			crossed(c, s.File, "input", kv.K, kv.V, producers(c, j))
		}
	}
}
