// Package workflowcheck reads a repository's GitHub workflows and action.yml
// files the way the runner would and rejects what the runner would happily
// run: unpinned third-party actions, write permissions nobody needs,
// pull_request_target, expressions spliced into shell scripts, inputs that a
// composite action never hands to its Go main, calls to local actions with
// inputs they do not declare, outputs wired to the wrong name, and composite
// steps that build a Go main outside the action's directory.
//
// Rules live one per file, each a value with a name and a summary that
// implements the visits it needs (WorkflowRule, JobRule, StepRule,
// ActionRule), in the shape of actionlint's rules. Run applies every rule to
// every file and returns the findings sorted by file and line.
package workflowcheck

import (
	"fmt"
	"regexp"
	"sort"
)

// A Finding is one rule broken at one place.
type Finding struct {
	File string // slash path relative to the repository root
	Line int
	Rule string
	Msg  string
}

func (f Finding) String() string { return fmt.Sprintf("%s:%d: [%s] %s", f.File, f.Line, f.Rule, f.Msg) }

// Rule is one check. It also implements one or more of the visit interfaces
// below; Run calls those it implements.
type Rule interface {
	Name() string    // the name findings and "# want:" markers use
	Summary() string // one line for humans
}

// WorkflowRule looks at a workflow file as a whole.
type WorkflowRule interface {
	Rule
	Workflow(c *Check, wf *Workflow)
}

// JobRule looks at one job of a workflow.
type JobRule interface {
	Rule
	Job(c *Check, j *Job)
}

// StepRule looks at one step, of a workflow job or of a composite action.
type StepRule interface {
	Rule
	Step(c *Check, s *Step)
}

// ActionRule looks at one action.yml.
type ActionRule interface {
	Rule
	Action(c *Check, a *Action)
}

// Rules is every rule, in the order their findings are produced.
var Rules = []Rule{
	trigger{}, pin{}, permissions{}, oidc{}, awsCredentials{}, runExpression{},
	localAction{}, actionInputs{}, outputs{}, inputEnv{}, description{}, shell{},
	setup{}, checkoutCredentials{}, actionPath{}, wiring{},
}

// ruleParse names findings about files that do not load.
const ruleParse = "parse"

// Check is what a rule reports through.
type Check struct {
	Repo     *Repo
	rule     string
	findings []Finding
}

// Report records a finding of the running rule at node n (line 0 if nil).
func (c *Check) Report(file string, line int, format string, args ...any) {
	c.findings = append(c.findings, Finding{File: file, Line: line, Rule: c.rule, Msg: fmt.Sprintf(format, args...)})
}

// Run loads every .github/workflows/*.y*ml and every action.y*ml under root
// (skipping testdata and dot directories) and returns what breaks the rules.
func Run(root string) ([]Finding, error) {
	repo, loadFindings, err := Load(root)
	if err != nil {
		return nil, err
	}
	c := &Check{Repo: repo, findings: loadFindings}
	for _, r := range Rules {
		c.rule = r.Name()
		if ar, ok := r.(ActionRule); ok {
			for _, dir := range sortedKeys(repo.Actions) {
				ar.Action(c, repo.Actions[dir])
			}
		}
		if wr, ok := r.(WorkflowRule); ok {
			for _, f := range sortedKeys(repo.Workflows) {
				wr.Workflow(c, repo.Workflows[f])
			}
		}
		jr, isJob := r.(JobRule)
		sr, isStep := r.(StepRule)
		if isStep {
			for _, dir := range sortedKeys(repo.Actions) {
				for _, s := range repo.Actions[dir].Steps {
					sr.Step(c, s)
				}
			}
		}
		for _, f := range sortedKeys(repo.Workflows) {
			for _, j := range repo.Workflows[f].Jobs {
				if isJob {
					jr.Job(c, j)
				}
				if isStep {
					for _, s := range j.Steps {
						sr.Step(c, s)
					}
				}
			}
		}
	}
	sort.SliceStable(c.findings, func(i, j int) bool {
		a, b := c.findings[i], c.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return c.findings, nil
}

var (
	exprRe      = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	stepOutRe   = regexp.MustCompile(`\bsteps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)`)
	needsOutRe  = regexp.MustCompile(`\bneeds\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)`)
	inputRefRe  = regexp.MustCompile(`\binputs\.([A-Za-z_][\w-]*)`)
	inputEnvRe  = regexp.MustCompile(`^\$\{\{\s*inputs\.([A-Za-z_][\w-]*)\s*\}\}$`)
	varsOnlyRe  = regexp.MustCompile(`^\$\{\{\s*vars\.[A-Za-z_]\w*\s*\}\}$`)
	sha40       = regexp.MustCompile(`^[0-9a-f]{40}$`)
	versionNote = regexp.MustCompile(`\bv\d+(\.\d+)*\b|\b\d+\.\d+(\.\d+)?\b`) // v4, v4.2.2 or 4.0.2
)
