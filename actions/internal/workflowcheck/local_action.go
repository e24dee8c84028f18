package workflowcheck

import (
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// localAction: a uses: ./x names an action.yml (or a reusable workflow) that
// exists in this repository and parses.
type localAction struct{}

func (localAction) Name() string { return "local-action" }
func (localAction) Summary() string {
	return "uses: ./x names an existing action.yml or reusable workflow"
}

func (localAction) Step(c *Check, s *Step) { checkLocal(c, s.File, s.Uses()) }

func (localAction) Job(c *Check, j *Job) {
	_, u := Get(j.Node, "uses")
	checkLocal(c, j.Workflow.File, u)
}

func checkLocal(c *Check, file string, u *yaml.Node) {
	if u == nil || !strings.HasPrefix(u.Value, "./") {
		return
	}
	target := path.Clean(strings.TrimPrefix(u.Value, "./"))
	switch {
	case strings.HasPrefix(target, ".github/workflows/"):
		if c.Repo.Workflows[target] == nil {
			c.Report(file, u.Line, "%s: no such workflow in .github/workflows", u.Value)
		}
	case c.Repo.Actions[target] != nil:
	case c.Repo.Unreadable[target]:
		c.Report(file, u.Line, "%s: its action.yml does not parse (see its own finding)", u.Value)
	default:
		c.Report(file, u.Line, "%s: no action.yml there", u.Value)
	}
}
