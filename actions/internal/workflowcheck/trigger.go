package workflowcheck

import "gopkg.in/yaml.v3"

// trigger refuses pull_request_target: it runs with a write token and the
// repository's secrets while checking out whatever a fork pushed.
type trigger struct{}

func (trigger) Name() string    { return "trigger" }
func (trigger) Summary() string { return "no pull_request_target; every workflow has on:" }

func (trigger) Workflow(c *Check, wf *Workflow) {
	_, on := Get(wf.Root, "on")
	if on == nil {
		c.Report(wf.File, lineOf(wf.Root), "no on: triggers")
	}
	for _, ev := range triggers(on) {
		if ev.Value == "pull_request_target" {
			c.Report(wf.File, ev.Line, "pull_request_target runs a fork's pull request with a write token and secrets; use pull_request")
		}
	}
}

// triggers returns the event names of on:, which may be a string, a list or
// a mapping.
func triggers(on *yaml.Node) []*yaml.Node {
	switch {
	case on == nil:
		return nil
	case on.Kind == yaml.ScalarNode:
		return []*yaml.Node{on}
	case on.Kind == yaml.SequenceNode:
		return on.Content
	}
	var out []*yaml.Node
	for _, kv := range Pairs(on) {
		out = append(out, kv.K)
	}
	return out
}
