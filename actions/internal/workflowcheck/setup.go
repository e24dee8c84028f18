package workflowcheck

import "strings"

// setup: conveyor's actions are Go mains their composite step builds, read
// from the checked-out repository: a job checks out and sets Go up first.
type setup struct{}

func (setup) Name() string { return "setup" }
func (setup) Summary() string {
	return "local actions run after actions/checkout and actions/setup-go"
}

func (setup) Job(c *Check, j *Job) {
	checkedOut, goReady := false, false
	for _, s := range j.Steps {
		u := s.Uses()
		switch {
		case u == nil:
		case strings.HasPrefix(u.Value, "actions/checkout@"):
			checkedOut = true
		case strings.HasPrefix(u.Value, "actions/setup-go@"):
			goReady = true
		case c.Repo.LocalAction(u.Value) != nil:
			if !checkedOut {
				c.Report(s.File, u.Line, "%s runs before actions/checkout: a local action is read from the checked-out repository", u.Value)
			}
			if !goReady {
				c.Report(s.File, u.Line, "%s builds a Go main: set Go up first (actions/setup-go with go-version-file: go.mod)", u.Value)
			}
		}
	}
}
