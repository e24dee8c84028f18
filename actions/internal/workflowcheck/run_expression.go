package workflowcheck

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// runExpression refuses ${{ }} in scripts: the runner pastes the value into
// the shell source before the shell parses it, so a branch name or a
// dispatch input becomes code. github-script's script: is a script too.
type runExpression struct{}

func (runExpression) Name() string { return "run-expression" }
func (runExpression) Summary() string {
	return "no ${{ }} inside run: or github-script scripts; pass values through env:"
}

// runExprAllowed are the only expressions allowed inside scripts. They are
// set by the runner, never by whoever opened a pull request or filled in a
// dispatch form.
var runExprAllowed = map[string]bool{"runner.temp": true, "runner.os": true, "runner.arch": true}

func (runExpression) Step(c *Check, s *Step) {
	var scripts []*yaml.Node
	if _, run := Get(s.Node, "run"); run != nil {
		scripts = append(scripts, run)
	}
	if u := s.Uses(); u != nil && strings.HasPrefix(u.Value, "actions/github-script@") {
		_, with := Get(s.Node, "with")
		if _, sc := Get(with, "script"); sc != nil {
			scripts = append(scripts, sc)
		}
	}
	for _, sc := range scripts {
		for _, loc := range exprRe.FindAllStringSubmatchIndex(sc.Value, -1) {
			e := strings.TrimSpace(sc.Value[loc[2]:loc[3]])
			if runExprAllowed[e] {
				continue
			}
			line := sc.Line
			if sc.Style&yaml.LiteralStyle != 0 {
				line += 1 + strings.Count(sc.Value[:loc[0]], "\n")
			}
			c.Report(s.File, line, "${{ %s }} inside a script: pass it through env: and use \"$VAR\"", e)
		}
	}
}
