package workflowcheck

import (
	"fmt"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
)

// MainInputs compares an action.yml with the inputs its Go main parses
// (gha.Parse): every input declared with the same required flag and default,
// mapped into a step's env as INPUT_<NAME>, and none declared that the main
// never reads. It returns what differs, one line each. The action tests call
// it with their main's input table (the table lives in package main, which
// only its own tests can see).
func MainInputs(actionYML string, inputs []gha.Input) ([]string, error) {
	n, f := LoadFile(actionYML, actionYML)
	if f != nil {
		return nil, fmt.Errorf("%s", f)
	}
	a := newAction(actionYML, n)
	env := map[string]string{}
	for _, s := range a.Steps {
		_, e := Get(s.Node, "env")
		for _, kv := range Pairs(e) {
			env[kv.K.Value] = strings.TrimSpace(kv.V.Value)
		}
	}
	_, ins := Get(a.Root, "inputs")
	var out []string
	seen := map[string]bool{}
	for _, in := range inputs {
		seen[in.Name] = true
		_, y := Get(ins, in.Name)
		if y == nil {
			out = append(out, fmt.Sprintf("%s: input %s is parsed by the main but not declared", actionYML, in.Name))
			continue
		}
		_, req := Get(y, "required")
		_, def := Get(y, "default")
		required := req != nil && req.Value == "true"
		defValue := ""
		if def != nil {
			defValue = def.Value
		}
		if required != in.Required || defValue != in.Default {
			out = append(out, fmt.Sprintf("%s:%d: input %s: required %v default %q, the main says %v %q", actionYML, y.Line, in.Name, required, defValue, in.Required, in.Default))
		}
		if want := "${{ inputs." + in.Name + " }}"; env[gha.EnvName(in.Name)] != want {
			out = append(out, fmt.Sprintf("%s: env %s should be %s", actionYML, gha.EnvName(in.Name), want))
		}
	}
	for _, name := range sortedKeys(a.Inputs) {
		if !seen[name] {
			out = append(out, fmt.Sprintf("%s:%d: input %s is declared but the main never reads it", actionYML, a.Inputs[name].Line, name))
		}
	}
	return out, nil
}
