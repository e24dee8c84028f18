package workflowcheck

import (
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// permissions: the default token may be read-write, so a workflow starts from
// {} (or read-all) and each job asks for the writes it uses, and only writes
// some step of the job needs.
type permissions struct{}

func (permissions) Name() string { return "permissions" }
func (permissions) Summary() string {
	return "top-level permissions {} or read; job writes only where a step needs them"
}

// writeNeeds says which steps justify each write permission. Any other write
// (contents above all) is refused.
var writeNeeds = map[string]string{
	"id-token":        "aws-actions/configure-aws-credentials",
	"security-events": "github/codeql-action/upload-sarif",
}

func (permissions) Workflow(c *Check, wf *Workflow) {
	key, top := Get(wf.Root, "permissions")
	if top == nil {
		c.Report(wf.File, lineOf(wf.Root), "no top-level permissions: the default token may be read-write; set permissions: {} and grant per job")
		return
	}
	switch top.Kind {
	case yaml.ScalarNode:
		if top.Value != "read-all" {
			c.Report(wf.File, key.Line, "top-level permissions %q: use {} (or read-all) and grant writes per job", top.Value)
		}
	case yaml.MappingNode:
		for _, kv := range Pairs(top) {
			if kv.V.Value != "read" && kv.V.Value != "none" {
				c.Report(wf.File, kv.K.Line, "top-level %s: %s applies to every job; grant it only in the job that needs it", kv.K.Value, kv.V.Value)
			}
		}
	}
}

func (permissions) Job(c *Check, j *Job) {
	key, perm := Get(j.Node, "permissions")
	if perm == nil {
		return
	}
	if perm.Kind == yaml.ScalarNode && perm.Value == "write-all" {
		c.Report(j.Workflow.File, key.Line, "job %s: write-all; list only the scopes it needs", j.Name.Value)
	}
	uses := jobUses(c.Repo, j)
	for _, kv := range Pairs(perm) {
		if kv.V.Value != "write" {
			continue
		}
		need, ok := writeNeeds[kv.K.Value]
		switch {
		case !ok:
			c.Report(j.Workflow.File, kv.K.Line, "job %s: %s: write is never needed here (only %s are allowed, where used)", j.Name.Value, kv.K.Value, strings.Join(sortedKeys(writeNeeds), " and "))
		case uses[need] == nil:
			c.Report(j.Workflow.File, kv.K.Line, "job %s: %s: write without a %s step", j.Name.Value, kv.K.Value, need)
		}
	}
}

// jobUses maps each action a job runs (without @ref) to the first uses: of
// it, counting the steps of a reusable workflow the job calls: they run on
// this job's token.
func jobUses(r *Repo, j *Job) map[string]*yaml.Node {
	uses := map[string]*yaml.Node{}
	add := func(steps []*Step) {
		for _, s := range steps {
			if u := s.Uses(); u != nil {
				name, _, _ := strings.Cut(u.Value, "@")
				if uses[name] == nil {
					uses[name] = u
				}
			}
		}
	}
	if _, u := Get(j.Node, "uses"); u != nil && strings.HasPrefix(u.Value, "./") {
		if called := r.Workflows[path.Clean(strings.TrimPrefix(u.Value, "./"))]; called != nil {
			for _, cj := range called.Jobs {
				add(cj.Steps)
			}
		}
	}
	add(j.Steps)
	return uses
}

// effectivePermissions returns a job's permissions, else the workflow's.
func effectivePermissions(j *Job) *yaml.Node {
	if _, perm := Get(j.Node, "permissions"); perm != nil {
		return perm
	}
	_, top := Get(j.Workflow.Root, "permissions")
	return top
}
