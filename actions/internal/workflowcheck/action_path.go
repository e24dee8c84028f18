package workflowcheck

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// actionPath: a composite step starts in the caller's workspace, not in the
// action's directory, so a `go build .` without `cd "$GITHUB_ACTION_PATH"`
// builds whatever main package sits at the root of the caller's checkout, or
// fails there. The runner gives no warning.
// https://docs.github.com/en/actions/reference/workflows-and-actions/variables (GITHUB_ACTION_PATH)
type actionPath struct{}

func (actionPath) Name() string { return "action-path" }
func (actionPath) Summary() string {
	return `a composite step that runs go does so in the action's directory (cd "$GITHUB_ACTION_PATH")`
}

var (
	goCmdRe = regexp.MustCompile(`\bgo\s+(build|run|install|generate|test)\b`)
	cdRe    = regexp.MustCompile(`\bcd\s+"?\$\{?GITHUB_ACTION_PATH\}?"?`)
	wdRe    = regexp.MustCompile(`^\$\{\{\s*github\.action_path\s*\}\}$`)
)

func (actionPath) Step(c *Check, s *Step) {
	if s.Action == nil {
		return
	}
	_, run := Get(s.Node, "run")
	if run == nil {
		return
	}
	if _, wd := Get(s.Node, "working-directory"); wd != nil && wdRe.MatchString(strings.TrimSpace(wd.Value)) {
		return
	}
	loc := goCmdRe.FindStringIndex(run.Value)
	if loc == nil {
		return
	}
	if cd := cdRe.FindStringIndex(run.Value); cd != nil && cd[0] < loc[0] {
		return
	}
	line := run.Line
	if run.Style&yaml.LiteralStyle != 0 {
		line += 1 + strings.Count(run.Value[:loc[0]], "\n")
	}
	c.Report(s.File, line, "%q runs in the caller's workspace: cd \"$GITHUB_ACTION_PATH\" first (or working-directory: ${{ github.action_path }})", run.Value[loc[0]:loc[1]])
}
