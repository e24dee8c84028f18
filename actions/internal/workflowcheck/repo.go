package workflowcheck

import (
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Repo is every workflow and action under one repository root.
type Repo struct {
	Root      string
	Workflows map[string]*Workflow // by slash path, ".github/workflows/x.yml"
	Actions   map[string]*Action   // by directory, "actions/x"
	// Unreadable action directories, so that a uses: of one says why it fails.
	Unreadable map[string]bool
}

// Workflow is one file under .github/workflows.
type Workflow struct {
	File string
	Root *yaml.Node
	Jobs []*Job
}

// Job is one entry of a workflow's jobs:.
type Job struct {
	Workflow *Workflow
	Name     *yaml.Node // the key
	Node     *yaml.Node // the mapping
	Steps    []*Step
}

// Action is one action.yml.
type Action struct {
	File      string // "actions/x/action.yml"
	Dir       string // "actions/x"
	Root      *yaml.Node
	Inputs    map[string]Input
	Outputs   map[string]*yaml.Node // output name -> its mapping
	Composite bool
	Steps     []*Step
}

// Input is one declared input of an action.
type Input struct {
	Required, HasDefault bool
	Line                 int
}

// Step is one step of a workflow job (Job set) or of a composite action
// (Action set).
type Step struct {
	File   string
	Node   *yaml.Node
	Job    *Job
	Action *Action
}

// Uses returns the step's uses: node, or nil for a run: step.
func (s *Step) Uses() *yaml.Node {
	_, u := Get(s.Node, "uses")
	return u
}

// LocalAction returns the repository action a uses: ./x names, or nil.
func (r *Repo) LocalAction(uses string) *Action {
	if !strings.HasPrefix(uses, "./") {
		return nil
	}
	return r.Actions[path.Clean(strings.TrimPrefix(uses, "./"))]
}

// Load reads the repository. Files that do not parse come back as findings
// of rule "parse" and are left out of the Repo.
func Load(root string) (*Repo, []Finding, error) {
	r := &Repo{Root: root, Workflows: map[string]*Workflow{}, Actions: map[string]*Action{}, Unreadable: map[string]bool{}}
	var findings []Finding
	wfs, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if err != nil {
		return nil, nil, err
	}
	for _, p := range wfs {
		rel := r.rel(p)
		n, f := LoadFile(p, rel)
		if f != nil {
			findings = append(findings, *f)
			continue
		}
		r.Workflows[rel] = newWorkflow(rel, n)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || (d.Name() != "action.yml" && d.Name() != "action.yaml") {
			return nil
		}
		rel := r.rel(p)
		n, f := LoadFile(p, rel)
		if f != nil {
			findings = append(findings, *f)
			r.Unreadable[path.Dir(rel)] = true
			return nil
		}
		r.Actions[path.Dir(rel)] = newAction(rel, n)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return r, findings, nil
}

func (r *Repo) rel(p string) string {
	rel, err := filepath.Rel(r.Root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

func newWorkflow(rel string, n *yaml.Node) *Workflow {
	wf := &Workflow{File: rel, Root: n}
	_, jobs := Get(n, "jobs")
	for _, kv := range Pairs(jobs) {
		j := &Job{Workflow: wf, Name: kv.K, Node: kv.V}
		_, steps := Get(kv.V, "steps")
		for _, st := range Items(steps) {
			j.Steps = append(j.Steps, &Step{File: rel, Node: st, Job: j})
		}
		wf.Jobs = append(wf.Jobs, j)
	}
	return wf
}

func newAction(rel string, n *yaml.Node) *Action {
	a := &Action{File: rel, Dir: path.Dir(rel), Root: n, Inputs: map[string]Input{}, Outputs: map[string]*yaml.Node{}}
	_, ins := Get(n, "inputs")
	for _, kv := range Pairs(ins) {
		in := Input{Line: kv.K.Line}
		_, req := Get(kv.V, "required")
		in.Required = req != nil && req.Value == "true"
		_, def := Get(kv.V, "default")
		in.HasDefault = def != nil
		a.Inputs[kv.K.Value] = in
	}
	_, outs := Get(n, "outputs")
	for _, kv := range Pairs(outs) {
		a.Outputs[kv.K.Value] = kv.V
	}
	_, runs := Get(n, "runs")
	_, using := Get(runs, "using")
	a.Composite = using != nil && using.Value == "composite"
	_, steps := Get(runs, "steps")
	for _, st := range Items(steps) {
		a.Steps = append(a.Steps, &Step{File: rel, Node: st, Action: a})
	}
	return a
}

// Job returns the named job of a workflow, or nil.
func (wf *Workflow) Job(name string) *Job {
	for _, j := range wf.Jobs {
		if j.Name.Value == name {
			return j
		}
	}
	return nil
}

// Needs returns the job names listed in a job's needs:.
func (j *Job) Needs() map[string]bool {
	needs := map[string]bool{}
	_, nd := Get(j.Node, "needs")
	if nd != nil && nd.Kind == yaml.ScalarNode {
		needs[nd.Value] = true
	}
	for _, n := range Items(nd) {
		needs[n.Value] = true
	}
	return needs
}

// StepIDs maps the ids of steps to the steps.
func stepIDs(steps []*Step) map[string]*Step {
	ids := map[string]*Step{}
	for _, s := range steps {
		if _, id := Get(s.Node, "id"); id != nil {
			ids[id.Value] = s
		}
	}
	return ids
}

func lineOf(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
