package actions_test

// The workflows and action.yml files are where supply-chain and permission
// mistakes happen, and GitHub is not reachable from here, so this test reads
// them the way the runner would and rejects what the runner would happily
// run: unpinned third-party actions, write permissions nobody needs,
// pull_request_target, expressions spliced into shell scripts, inputs that a
// composite action never hands to its Go main, and calls to local actions
// with inputs they do not declare.
//
// The checker is table-tested against fixtures under testdata/: testdata/good
// is a small repository that must come out clean, and each file under
// testdata/bad is one violation laid over it, its offending lines marked with
// a "# want: rule" comment.

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
)

// A finding is one rule broken at one place.
type finding struct {
	File string // slash path relative to the repository root
	Line int
	Rule string
	Msg  string
}

func (f finding) String() string { return fmt.Sprintf("%s:%d: [%s] %s", f.File, f.Line, f.Rule, f.Msg) }

// Rules, named so that fixtures and failures can say which one fired.
const (
	ruleParse         = "parse"
	ruleTrigger       = "trigger"              // pull_request_target
	rulePin           = "pin"                  // third-party uses: not at a full commit SHA with a version comment
	rulePermissions   = "permissions"          // more than a job needs
	ruleOIDC          = "oidc"                 // configure-aws-credentials without id-token: write
	ruleAWSCreds      = "aws-credentials"      // keys or secrets instead of an OIDC role from vars.*
	ruleRunExpr       = "run-expression"       // ${{ }} inside a script
	ruleLocalAction   = "local-action"         // uses: ./x that does not exist
	ruleActionInputs  = "action-inputs"        // undeclared or missing required inputs
	ruleOutputs       = "outputs"              // steps/needs outputs that nothing declares
	ruleInputEnv      = "input-env"            // composite input not mapped to INPUT_<NAME>
	ruleInputDescribe = "input-description"    // inputs and outputs without a description
	ruleShell         = "shell"                // composite run: step without shell:
	ruleSetup         = "setup"                // local action before checkout or setup-go
	ruleCheckoutCreds = "checkout-credentials" // checkout leaving the token in .git/config
)

// runExprAllowed are the only expressions allowed inside run: scripts. They
// are set by the runner, never by whoever opened a pull request or filled in
// a dispatch form; everything else goes through env:.
var runExprAllowed = map[string]bool{"runner.temp": true, "runner.os": true, "runner.arch": true}

// writeNeeds says which steps justify each write permission. Any other write
// (contents above all) is refused.
var writeNeeds = map[string]string{
	"id-token":        "aws-actions/configure-aws-credentials",
	"security-events": "github/codeql-action/upload-sarif",
}

var (
	sha40       = regexp.MustCompile(`^[0-9a-f]{40}$`)
	versionNote = regexp.MustCompile(`\bv\d+(\.\d+)*\b|\b\d+\.\d+(\.\d+)?\b`) // v4, v4.2.2 or 4.0.2
	exprRe      = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	stepOutRe   = regexp.MustCompile(`\bsteps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)`)
	needsOutRe  = regexp.MustCompile(`\bneeds\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)`)
	inputRefRe  = regexp.MustCompile(`\binputs\.([A-Za-z_][\w-]*)`)
	wantRe      = regexp.MustCompile(`want:\s*([a-z-]+(?:\s*,\s*[a-z-]+)*)`)
	yamlLineRe  = regexp.MustCompile(`line (\d+)`)
	// an action's env entry INPUT_X: ${{ inputs.x }}, nothing else in the value
	inputEnvRe     = regexp.MustCompile(`^\$\{\{\s*inputs\.([A-Za-z_][\w-]*)\s*\}\}$`)
	dockerDigestRe = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	varsOnlyRe     = regexp.MustCompile(`^\$\{\{\s*vars\.[A-Za-z_]\w*\s*\}\}$`)
)

// action is one action.yml.
type action struct {
	file    string
	root    *yaml.Node
	inputs  map[string]actionInput
	outputs map[string]bool
}

type actionInput struct {
	required, hasDefault bool
	line                 int
}

// repo is every workflow and action under one repository root.
type repo struct {
	root      string
	workflows map[string]*yaml.Node // rel path -> mapping
	actions   map[string]*action    // "actions/x" -> action
	// unreadable action directories, so a uses: of one says why it fails
	unreadable map[string]bool
	findings   []finding
}

func (r *repo) report(file string, n *yaml.Node, rule, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	r.findings = append(r.findings, finding{File: file, Line: line, Rule: rule, Msg: fmt.Sprintf(format, args...)})
}

// checkRepo loads every .github/workflows/*.y*ml and every action.y*ml under
// root (skipping testdata) and returns what breaks the rules.
func checkRepo(root string) ([]finding, error) {
	r := &repo{root: root, workflows: map[string]*yaml.Node{}, actions: map[string]*action{}, unreadable: map[string]bool{}}
	wfs, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if err != nil {
		return nil, err
	}
	for _, p := range wfs {
		rel := r.rel(p)
		if n := r.load(p, rel); n != nil {
			r.workflows[rel] = n
		}
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
		if n := r.load(p, rel); n != nil {
			r.actions[path.Dir(rel)] = r.parseAction(rel, n)
		} else {
			r.unreadable[path.Dir(rel)] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, rel := range sortedKeys(r.actions) {
		r.checkAction(r.actions[rel])
	}
	for _, rel := range sortedKeys(r.workflows) {
		r.checkWorkflow(rel, r.workflows[rel])
	}
	sort.SliceStable(r.findings, func(i, j int) bool {
		a, b := r.findings[i], r.findings[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return r.findings, nil
}

func (r *repo) rel(p string) string {
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

func (r *repo) load(p, rel string) *yaml.Node {
	b, err := os.ReadFile(p)
	if err != nil {
		r.findings = append(r.findings, finding{File: rel, Rule: ruleParse, Msg: err.Error()})
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		line := 1
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		r.findings = append(r.findings, finding{File: rel, Line: line, Rule: ruleParse, Msg: err.Error()})
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		r.findings = append(r.findings, finding{File: rel, Line: 1, Rule: ruleParse, Msg: "not a YAML mapping"})
		return nil
	}
	return doc.Content[0]
}

func (r *repo) parseAction(rel string, n *yaml.Node) *action {
	a := &action{file: rel, root: n, inputs: map[string]actionInput{}, outputs: map[string]bool{}}
	_, ins := get(n, "inputs")
	for _, kv := range pairs(ins) {
		in := actionInput{line: kv.k.Line}
		_, req := get(kv.v, "required")
		in.required = req != nil && req.Value == "true"
		_, def := get(kv.v, "default")
		in.hasDefault = def != nil
		a.inputs[kv.k.Value] = in
		if _, d := get(kv.v, "description"); d == nil || strings.TrimSpace(d.Value) == "" {
			r.report(rel, kv.k, ruleInputDescribe, "input %q has no description", kv.k.Value)
		}
	}
	_, outs := get(n, "outputs")
	for _, kv := range pairs(outs) {
		a.outputs[kv.k.Value] = true
		if _, d := get(kv.v, "description"); d == nil || strings.TrimSpace(d.Value) == "" {
			r.report(rel, kv.k, ruleInputDescribe, "output %q has no description", kv.k.Value)
		}
	}
	return a
}

// checkAction: composite actions do not receive INPUT_* on their own, so
// every input must be mapped into a step's env under the name gha.Parse
// reads, and outputs must come from steps that exist.
func (r *repo) checkAction(a *action) {
	_, runs := get(a.root, "runs")
	_, using := get(runs, "using")
	_, steps := get(runs, "steps")
	if using == nil || using.Value != "composite" {
		return
	}
	mapped := map[string]bool{}
	ids := map[string]bool{}
	for _, st := range items(steps) {
		if _, id := get(st, "id"); id != nil {
			ids[id.Value] = true
		}
		r.checkStepUses(a.file, st)
		r.checkRun(a.file, st)
		if k, _ := get(st, "run"); k != nil {
			if _, sh := get(st, "shell"); sh == nil {
				r.report(a.file, k, ruleShell, "a composite action's run: step needs shell: (the runner refuses it otherwise)")
			}
		}
		_, env := get(st, "env")
		for _, kv := range pairs(env) {
			m := inputEnvRe.FindStringSubmatch(strings.TrimSpace(kv.v.Value))
			switch {
			case m != nil && gha.EnvName(m[1]) == kv.k.Value:
				mapped[m[1]] = true
			case m != nil:
				r.report(a.file, kv.k, ruleInputEnv, "env %s carries inputs.%s; the Go main reads it as %s", kv.k.Value, m[1], gha.EnvName(m[1]))
			case strings.HasPrefix(kv.k.Value, "INPUT_"):
				r.report(a.file, kv.k, ruleInputEnv, "env %s must be exactly ${{ inputs.<name> }} of the input it is named for", kv.k.Value)
			}
		}
	}
	for _, name := range sortedKeys(a.inputs) {
		if !mapped[name] {
			r.report(a.file, &yaml.Node{Line: a.inputs[name].line}, ruleInputEnv,
				"input %q is not mapped into a step env as %s: ${{ inputs.%s }} (composite actions get no INPUT_* variables on their own)",
				name, gha.EnvName(name), name)
		}
	}
	walkScalars(a.root, func(s *yaml.Node) {
		for _, e := range exprs(s.Value) {
			for _, m := range inputRefRe.FindAllStringSubmatch(e, -1) {
				if _, ok := a.inputs[m[1]]; !ok {
					r.report(a.file, s, ruleInputEnv, "inputs.%s is not a declared input", m[1])
				}
			}
			for _, m := range stepOutRe.FindAllStringSubmatch(e, -1) {
				if !ids[m[1]] {
					r.report(a.file, s, ruleOutputs, "steps.%s: no step has id %q", m[1], m[1])
				}
			}
		}
	})
}

func (r *repo) checkWorkflow(rel string, wf *yaml.Node) {
	_, on := get(wf, "on")
	if on == nil {
		r.report(rel, wf, ruleParse, "no on: triggers")
	}
	for _, ev := range triggers(on) {
		if ev.Value == "pull_request_target" {
			r.report(rel, ev, ruleTrigger, "pull_request_target runs a fork's pull request with a write token and secrets; use pull_request")
		}
	}

	topKey, top := get(wf, "permissions")
	if top == nil {
		r.report(rel, wf, rulePermissions, "no top-level permissions: the default token may be read-write; set permissions: {} and grant per job")
	} else {
		r.checkTopPermissions(rel, topKey, top)
	}

	_, jobs := get(wf, "jobs")
	jobOutputs := map[string]map[string]bool{}
	for _, j := range pairs(jobs) {
		outs := map[string]bool{}
		_, o := get(j.v, "outputs")
		for _, kv := range pairs(o) {
			outs[kv.k.Value] = true
		}
		if _, u := get(j.v, "uses"); u != nil && o == nil {
			outs = nil // a reusable workflow's outputs are its own business
		}
		jobOutputs[j.k.Value] = outs
	}
	for _, j := range pairs(jobs) {
		r.checkJob(rel, j.k, j.v, top, jobOutputs)
	}
}

func (r *repo) checkTopPermissions(rel string, key, top *yaml.Node) {
	switch top.Kind {
	case yaml.ScalarNode:
		if top.Value != "read-all" {
			r.report(rel, key, rulePermissions, "top-level permissions %q: use {} (or read-all) and grant writes per job", top.Value)
		}
	case yaml.MappingNode:
		for _, kv := range pairs(top) {
			if kv.v.Value != "read" && kv.v.Value != "none" {
				r.report(rel, kv.k, rulePermissions, "top-level %s: %s applies to every job; grant it only in the job that needs it", kv.k.Value, kv.v.Value)
			}
		}
	}
}

func (r *repo) checkJob(rel string, name, job, top *yaml.Node, jobOutputs map[string]map[string]bool) {
	_, steps := get(job, "steps")
	uses := map[string]*yaml.Node{} // third-party action (without @ref) -> first step using it
	if _, u := get(job, "uses"); u != nil {
		r.checkUses(rel, u, job)
		if called := r.calledWorkflow(u.Value); called != nil {
			// A reusable workflow's steps run on this job's token.
			_, cj := get(called, "jobs")
			for _, kv := range pairs(cj) {
				_, cs := get(kv.v, "steps")
				collectUses(cs, uses)
			}
		}
	}
	collectUses(steps, uses)
	checkedOut, goReady := false, false
	for _, st := range items(steps) {
		r.checkStepUses(rel, st)
		r.checkRun(rel, st)
		_, u := get(st, "uses")
		switch {
		case u == nil:
		case strings.HasPrefix(u.Value, "actions/checkout@"):
			checkedOut = true
			// Later steps build and run the repository's code; the token
			// must not sit in .git/config for them to read.
			_, with := get(st, "with")
			if _, pc := get(with, "persist-credentials"); pc == nil || pc.Value != "false" {
				r.report(rel, u, ruleCheckoutCreds, "actions/checkout without persist-credentials: false leaves the job's token in .git/config")
			}
		case strings.HasPrefix(u.Value, "actions/setup-go@"):
			goReady = true
		case strings.HasPrefix(u.Value, "./") && r.actions[path.Clean(strings.TrimPrefix(u.Value, "./"))] != nil:
			// conveyor's actions are Go mains built by their composite step.
			if !checkedOut {
				r.report(rel, u, ruleSetup, "%s runs before actions/checkout: a local action is read from the checked-out repository", u.Value)
			}
			if !goReady {
				r.report(rel, u, ruleSetup, "%s builds a Go main: set Go up first (actions/setup-go with go-version-file: go.mod)", u.Value)
			}
		}
	}

	// Permissions: the job's own, else inherited from the top level.
	permKey, perm := get(job, "permissions")
	effective := top
	if perm != nil {
		effective = perm
		if perm.Kind == yaml.ScalarNode && perm.Value == "write-all" {
			r.report(rel, permKey, rulePermissions, "job %s: write-all; list only the scopes it needs", name.Value)
		}
		for _, kv := range pairs(perm) {
			if kv.v.Value != "write" {
				continue
			}
			need, ok := writeNeeds[kv.k.Value]
			switch {
			case !ok:
				r.report(rel, kv.k, rulePermissions, "job %s: %s: write is never needed here (only %s are allowed, where used)", name.Value, kv.k.Value, strings.Join(sortedKeys(writeNeeds), " and "))
			case uses[need] == nil:
				r.report(rel, kv.k, rulePermissions, "job %s: %s: write without a %s step", name.Value, kv.k.Value, need)
			}
		}
	}
	if u := uses["aws-actions/configure-aws-credentials"]; u != nil {
		if _, idt := get(effective, "id-token"); idt == nil || idt.Value != "write" {
			r.report(rel, u, ruleOIDC, "job %s assumes an AWS role through OIDC but lacks permissions id-token: write", name.Value)
		}
	}

	// Outputs referenced through steps.<id> and needs.<job>.
	ids := map[string]*yaml.Node{}
	for _, st := range items(steps) {
		if _, id := get(st, "id"); id != nil {
			ids[id.Value] = st
		}
	}
	needs := map[string]bool{}
	_, nd := get(job, "needs")
	if nd != nil && nd.Kind == yaml.ScalarNode {
		needs[nd.Value] = true
	}
	for _, n := range items(nd) {
		needs[n.Value] = true
	}
	walkScalars(job, func(s *yaml.Node) {
		for _, e := range exprs(s.Value) {
			for _, m := range stepOutRe.FindAllStringSubmatch(e, -1) {
				st, ok := ids[m[1]]
				if !ok {
					r.report(rel, s, ruleOutputs, "steps.%s: job %s has no step with id %q", m[1], name.Value, m[1])
					continue
				}
				_, u := get(st, "uses")
				if u == nil || !strings.HasPrefix(u.Value, "./") {
					continue // run steps and third-party actions: outputs unknown here
				}
				if a := r.actions[path.Clean(strings.TrimPrefix(u.Value, "./"))]; a != nil && !a.outputs[m[2]] {
					r.report(rel, s, ruleOutputs, "steps.%s.outputs.%s: %s declares no output %q", m[1], m[2], a.file, m[2])
				}
			}
			for _, m := range needsOutRe.FindAllStringSubmatch(e, -1) {
				outs, exists := jobOutputs[m[1]]
				switch {
				case !exists || !needs[m[1]]:
					r.report(rel, s, ruleOutputs, "needs.%s: job %s does not list %q in needs", m[1], name.Value, m[1])
				case outs != nil && !outs[m[2]]:
					r.report(rel, s, ruleOutputs, "needs.%s.outputs.%s: job %s declares no output %q", m[1], m[2], m[1], m[2])
				}
			}
		}
	})
}

func (r *repo) calledWorkflow(uses string) *yaml.Node {
	if !strings.HasPrefix(uses, "./") {
		return nil
	}
	return r.workflows[path.Clean(strings.TrimPrefix(uses, "./"))]
}

func (r *repo) checkStepUses(rel string, st *yaml.Node) {
	if _, u := get(st, "uses"); u != nil {
		r.checkUses(rel, u, st)
		if strings.HasPrefix(u.Value, "aws-actions/configure-aws-credentials@") {
			checkAWSCredentials(r, rel, st)
		}
	}
}

// checkUses checks one uses: value; holder is the step or job holding it.
func (r *repo) checkUses(rel string, u, holder *yaml.Node) {
	ref := u.Value
	switch {
	case strings.HasPrefix(ref, "./"):
		r.checkLocal(rel, u, holder)
	case strings.HasPrefix(ref, "docker://"):
		if !dockerDigestRe.MatchString(ref) {
			r.report(rel, u, rulePin, "%s: pin the image by digest (@sha256:...)", ref)
		}
	default:
		at := strings.LastIndex(ref, "@")
		if at < 0 || !sha40.MatchString(ref[at+1:]) {
			r.report(rel, u, rulePin, "%s: pin third-party actions to a full 40-hex commit SHA, with the version in a comment", ref)
			return
		}
		if !versionNote.MatchString(u.LineComment) {
			r.report(rel, u, rulePin, "%s: add the version the SHA stands for as a comment (# vX.Y.Z)", ref)
		}
	}
}

func (r *repo) checkLocal(rel string, u, holder *yaml.Node) {
	target := path.Clean(strings.TrimPrefix(u.Value, "./"))
	if strings.HasPrefix(target, ".github/workflows/") {
		if r.workflows[target] == nil {
			r.report(rel, u, ruleLocalAction, "%s: no such workflow in .github/workflows", u.Value)
		}
		return
	}
	a := r.actions[target]
	if a == nil && r.unreadable[target] {
		r.report(rel, u, ruleLocalAction, "%s: its action.yml does not parse (see its own finding)", u.Value)
		return
	}
	if a == nil {
		r.report(rel, u, ruleLocalAction, "%s: no action.yml there", u.Value)
		return
	}
	given := map[string]bool{}
	_, with := get(holder, "with")
	for _, kv := range pairs(with) {
		given[kv.k.Value] = true
		if _, ok := a.inputs[kv.k.Value]; !ok {
			r.report(rel, kv.k, ruleActionInputs, "%s declares no input %q (it has: %s)", a.file, kv.k.Value, strings.Join(sortedKeys(a.inputs), ", "))
		}
	}
	for _, name := range sortedKeys(a.inputs) {
		in := a.inputs[name]
		if in.required && !in.hasDefault && !given[name] {
			r.report(rel, u, ruleActionInputs, "%s: required input %q is not given", u.Value, name)
		}
	}
}

// checkRun refuses ${{ }} in scripts: the runner pastes the value into the
// shell source before the shell parses it, so a branch name or a dispatch
// input becomes code. github-script's script: is a script too.
func (r *repo) checkRun(rel string, st *yaml.Node) {
	var scripts []*yaml.Node
	if _, run := get(st, "run"); run != nil {
		scripts = append(scripts, run)
	}
	if _, u := get(st, "uses"); u != nil && strings.HasPrefix(u.Value, "actions/github-script@") {
		_, with := get(st, "with")
		if _, s := get(with, "script"); s != nil {
			scripts = append(scripts, s)
		}
	}
	for _, s := range scripts {
		for _, loc := range exprRe.FindAllStringSubmatchIndex(s.Value, -1) {
			e := strings.TrimSpace(s.Value[loc[2]:loc[3]])
			if runExprAllowed[e] {
				continue
			}
			line := s.Line
			if s.Style&yaml.LiteralStyle != 0 {
				line += 1 + strings.Count(s.Value[:loc[0]], "\n")
			}
			r.report(rel, &yaml.Node{Line: line}, ruleRunExpr, "${{ %s }} inside a script: pass it through env: and use \"$VAR\"", e)
		}
	}
}

// checkAWSCredentials: OIDC only, the role from a variable, never keys.
func checkAWSCredentials(r *repo, rel string, st *yaml.Node) {
	_, with := get(st, "with")
	_, role := get(with, "role-to-assume")
	if role == nil {
		r.report(rel, st, ruleAWSCreds, "configure-aws-credentials without role-to-assume: use OIDC")
	} else if !varsOnlyRe.MatchString(strings.TrimSpace(role.Value)) {
		r.report(rel, role, ruleAWSCreds, "role-to-assume %q: take it from a repository or environment variable (${{ vars.NAME }})", role.Value)
	}
	for _, kv := range pairs(with) {
		switch {
		case kv.k.Value == "aws-access-key-id" || kv.k.Value == "aws-secret-access-key" || kv.k.Value == "aws-session-token":
			r.report(rel, kv.k, ruleAWSCreds, "%s: long-lived keys; assume a role through OIDC instead", kv.k.Value)
		case strings.Contains(kv.v.Value, "secrets."):
			r.report(rel, kv.k, ruleAWSCreds, "%s comes from a secret; AWS access here is OIDC only", kv.k.Value)
		}
	}
}

func collectUses(steps *yaml.Node, into map[string]*yaml.Node) {
	for _, st := range items(steps) {
		if _, u := get(st, "uses"); u != nil {
			name, _, _ := strings.Cut(u.Value, "@")
			if into[name] == nil {
				into[name] = u
			}
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
	for _, kv := range pairs(on) {
		out = append(out, kv.k)
	}
	return out
}

// exprs returns the bodies of the ${{ }} expressions in s.
func exprs(s string) []string {
	var out []string
	for _, m := range exprRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

type pair struct{ k, v *yaml.Node }

func pairs(n *yaml.Node) []pair {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, pair{n.Content[i], n.Content[i+1]})
	}
	return out
}

func get(n *yaml.Node, key string) (k, v *yaml.Node) {
	for _, kv := range pairs(n) {
		if kv.k.Value == key {
			return kv.k, kv.v
		}
	}
	return nil, nil
}

func items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func walkScalars(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		f(n)
	}
	for _, c := range n.Content {
		walkScalars(c, f)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestCheckerAcceptsGoodFixture(t *testing.T) {
	findings, err := checkRepo(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("testdata/good/%s", f)
	}
}

// TestCheckerRejectsEachViolation lays each bad fixture over testdata/good
// and expects exactly the findings its "# want: rule" markers name, on those
// lines, and nothing anywhere else.
func TestCheckerRejectsEachViolation(t *testing.T) {
	cases := []struct {
		fixture string // under testdata/bad
		rules   []string
	}{
		{"workflows/pull-request-target.yml", []string{ruleTrigger}},
		{"workflows/pull-request-target-list.yml", []string{ruleTrigger}},
		{"workflows/unpinned-tag.yml", []string{rulePin}},
		{"workflows/short-sha.yml", []string{rulePin}},
		{"workflows/branch-ref.yml", []string{rulePin}},
		{"workflows/sha-without-version.yml", []string{rulePin}},
		{"workflows/sha-with-bare-number.yml", []string{rulePin}},
		{"workflows/docker-tag.yml", []string{rulePin}},
		{"workflows/no-top-permissions.yml", []string{rulePermissions}},
		{"workflows/top-write-all.yml", []string{rulePermissions}},
		{"workflows/top-id-token.yml", []string{rulePermissions}},
		{"workflows/job-write-all.yml", []string{rulePermissions}},
		{"workflows/contents-write.yml", []string{rulePermissions}},
		{"workflows/pull-requests-write.yml", []string{rulePermissions}},
		{"workflows/id-token-without-oidc.yml", []string{rulePermissions}},
		{"workflows/security-events-without-sarif.yml", []string{rulePermissions}},
		{"workflows/oidc-without-id-token.yml", []string{ruleOIDC}},
		{"workflows/aws-static-keys.yml", []string{ruleAWSCreds}},
		{"workflows/aws-role-from-secret.yml", []string{ruleAWSCreds}},
		{"workflows/run-event-expression.yml", []string{ruleRunExpr}},
		{"workflows/run-inputs-expression.yml", []string{ruleRunExpr}},
		{"workflows/run-head-ref.yml", []string{ruleRunExpr}},
		{"workflows/github-script-expression.yml", []string{ruleRunExpr}},
		{"workflows/unknown-local-action.yml", []string{ruleLocalAction}},
		{"workflows/unknown-reusable-workflow.yml", []string{ruleLocalAction}},
		{"workflows/undeclared-input.yml", []string{ruleActionInputs}},
		{"workflows/missing-required-input.yml", []string{ruleActionInputs}},
		{"workflows/undeclared-step-output.yml", []string{ruleOutputs}},
		{"workflows/unknown-step-id.yml", []string{ruleOutputs}},
		{"workflows/undeclared-job-output.yml", []string{ruleOutputs}},
		{"workflows/needs-not-listed.yml", []string{ruleOutputs}},
		{"workflows/local-action-before-checkout.yml", []string{ruleSetup}},
		{"workflows/local-action-without-go.yml", []string{ruleSetup}},
		{"workflows/checkout-persisting-token.yml", []string{ruleCheckoutCreds}},
		{"actions/input-not-in-env/action.yml", []string{ruleInputEnv}},
		{"actions/input-env-misnamed/action.yml", []string{ruleInputEnv}},
		{"actions/input-env-not-plain/action.yml", []string{ruleInputEnv}},
		{"actions/undeclared-input-reference/action.yml", []string{ruleInputEnv}},
		{"actions/input-without-description/action.yml", []string{ruleInputDescribe}},
		{"actions/output-without-description/action.yml", []string{ruleInputDescribe}},
		{"actions/run-inputs-expression/action.yml", []string{ruleRunExpr}},
		{"actions/unpinned-uses/action.yml", []string{rulePin}},
		{"actions/output-from-unknown-step/action.yml", []string{ruleOutputs}},
		{"actions/run-without-shell/action.yml", []string{ruleShell}},
		{"actions/colon-in-plain-scalar/action.yml", []string{ruleParse}},
	}

	// Every fixture on disk is in the table, so none is silently unused.
	listed := map[string]bool{}
	for _, c := range cases {
		listed[c.fixture] = true
	}
	bad := filepath.Join("testdata", "bad")
	err := filepath.WalkDir(bad, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if rel, _ := filepath.Rel(bad, p); !listed[filepath.ToSlash(rel)] {
				t.Errorf("fixture %s is not in the table", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			src := filepath.Join(bad, filepath.FromSlash(c.fixture))
			body, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			// workflows/x.yml -> .github/workflows/x.yml; actions/x/action.yml stays.
			dst := c.fixture
			if strings.HasPrefix(dst, "workflows/") {
				dst = ".github/" + dst
			}
			root := t.TempDir()
			if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "good"))); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(dst)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(dst)), body, 0o644); err != nil {
				t.Fatal(err)
			}

			want := wantMarkers(string(body))
			if len(want) == 0 {
				t.Fatalf("%s marks no line with # want: rule", src)
			}
			for _, w := range want {
				if rule := strings.Fields(w)[1]; !slices.Contains(c.rules, rule) {
					t.Errorf("%s: marker %q names a rule outside the table's %v", src, w, c.rules)
				}
			}
			findings, err := checkRepo(root)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				if f.File != dst {
					t.Errorf("finding outside the fixture: %s", f)
					continue
				}
				got = append(got, fmt.Sprintf("%d %s", f.Line, f.Rule))
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: findings (line rule) = %q, want %q", src, got, want)
				for _, f := range findings {
					t.Logf("  %s", f)
				}
			}
		})
	}
}

// wantMarkers returns "line rule" for each rule named by a "want:" marker.
func wantMarkers(body string) []string {
	var out []string
	for i, line := range strings.Split(body, "\n") {
		hash := strings.Index(line, "#")
		if hash < 0 {
			continue
		}
		if m := wantRe.FindStringSubmatch(line[hash:]); m != nil {
			for _, rule := range strings.Split(m[1], ",") {
				out = append(out, fmt.Sprintf("%d %s", i+1, strings.TrimSpace(rule)))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestRepositoryWorkflowsAndActions runs the checker on the real tree.
func TestRepositoryWorkflowsAndActions(t *testing.T) {
	findings, err := checkRepo("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("%s", f)
	}
	r := &repo{}
	for _, name := range []string{"build-push", "policy-check", "deploy", "rollback"} {
		p := filepath.Join(name, "action.yml")
		n := r.load(p, p)
		if n == nil {
			t.Errorf("actions/%s/action.yml: missing or unreadable", name)
			continue
		}
		_, runs := get(n, "runs")
		if _, using := get(runs, "using"); using == nil || using.Value != "composite" {
			t.Errorf("actions/%s/action.yml: runs.using must be composite (the step builds and runs the Go main)", name)
		}
	}
}

// TestActionlintIsClean runs actionlint (with shellcheck on run: scripts) on
// .github/workflows. .ci/run installs it by version.
func TestActionlintIsClean(t *testing.T) {
	bin := lookTool(t, "actionlint", "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12")
	if _, err := exec.LookPath("shellcheck"); err != nil {
		missingTool(t, "shellcheck", "apt-get install shellcheck (actionlint checks run: scripts with it)")
	}
	if v, err := exec.Command(bin, "-version").Output(); err == nil {
		t.Logf("%s %s", bin, strings.SplitN(string(v), "\n", 2)[0])
	}
	cmd := exec.Command(bin, "-no-color")
	cmd.Dir = ".." // actionlint finds .github/workflows from the repository root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint on .github/workflows: %v\n%s", err, out)
	}

	// The good fixture must be a valid workflow too, or the checker's
	// acceptance of it proves little. actionlint takes the directory holding
	// .git as the project root.
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "good"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "-no-color")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint on testdata/good: %v\n%s", err, out)
	}
}

// lookTool finds a tool on PATH or in GOPATH/bin (where go install puts it).
func lookTool(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", name); fileExists(p) {
				return p
			}
		}
	}
	missingTool(t, name, install)
	return ""
}

func missingTool(t *testing.T, name, install string) {
	t.Helper()
	msg := fmt.Sprintf("%s not found on PATH or in GOPATH/bin; install it: %s", name, install)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING (set CI to make this fatal): " + msg)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// The tests below pin down what the issue asks of each workflow, beyond the
// generic rules above.

func loadWorkflow(t *testing.T, name string) *yaml.Node {
	t.Helper()
	r := &repo{}
	p := filepath.Join("..", ".github", "workflows", name)
	n := r.load(p, ".github/workflows/"+name)
	for _, f := range r.findings {
		t.Fatalf("%s", f)
	}
	return n
}

// jobUsing returns the jobs with a step (or a job-level call) using ref.
func jobsUsing(wf *yaml.Node, ref string) []string {
	var out []string
	_, jobs := get(wf, "jobs")
	for _, j := range pairs(jobs) {
		found := false
		if _, u := get(j.v, "uses"); u != nil && u.Value == ref {
			found = true
		}
		_, steps := get(j.v, "steps")
		for _, st := range items(steps) {
			if _, u := get(st, "uses"); u != nil && (u.Value == ref || strings.HasPrefix(u.Value, ref+"@")) {
				found = true
			}
		}
		if found {
			out = append(out, j.k.Value)
		}
	}
	return out
}

func stepUsing(job *yaml.Node, ref string) *yaml.Node {
	_, steps := get(job, "steps")
	for _, st := range items(steps) {
		if _, u := get(st, "uses"); u != nil && u.Value == ref {
			return st
		}
	}
	return nil
}

func job(wf *yaml.Node, name string) *yaml.Node {
	_, jobs := get(wf, "jobs")
	_, j := get(jobs, name)
	return j
}

func environmentName(job *yaml.Node) string {
	_, env := get(job, "environment")
	if env != nil && env.Kind == yaml.MappingNode {
		_, env = get(env, "name")
	}
	if env == nil {
		return ""
	}
	return env.Value
}

// allNeeds returns every job name reachable through needs: from name.
func allNeeds(wf *yaml.Node, name string) map[string]bool {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		_, nd := get(job(wf, n), "needs")
		list := items(nd)
		if nd != nil && nd.Kind == yaml.ScalarNode {
			list = []*yaml.Node{nd}
		}
		for _, x := range list {
			if !seen[x.Value] {
				seen[x.Value] = true
				visit(x.Value)
			}
		}
	}
	visit(name)
	return seen
}

// jobConcurrency returns a job's concurrency group and cancel-in-progress
// ("" when the job has none).
func jobConcurrency(j *yaml.Node) (group, cancel string) {
	_, c := get(j, "concurrency")
	if c != nil && c.Kind == yaml.ScalarNode {
		return c.Value, "false"
	}
	_, g := get(c, "group")
	_, cip := get(c, "cancel-in-progress")
	if g != nil {
		group = g.Value
	}
	cancel = "false"
	if cip != nil {
		cancel = cip.Value
	}
	return group, cancel
}

// requireProductionLock: the lock is taken by the jobs that change
// production, and only by them. A workflow-level group would hold it through
// the tests (up to 90 minutes) and let a push replace a pending rollback.
func requireProductionLock(t *testing.T, file string, wf *yaml.Node, lockers ...string) {
	t.Helper()
	if k, _ := get(wf, "concurrency"); k != nil {
		t.Errorf("%s: workflow-level concurrency holds the production lock through every job; put it on the jobs that change production (%v)", file, lockers)
	}
	_, jobs := get(wf, "jobs")
	for _, j := range pairs(jobs) {
		g, cancel := jobConcurrency(j.v)
		want := slices.Contains(lockers, j.k.Value)
		switch {
		case want && (g != "production" || cancel != "false"):
			t.Errorf("%s: job %s: concurrency %q (cancel-in-progress %s), want group production with cancel-in-progress false", file, j.k.Value, g, cancel)
		case !want && g == "production":
			t.Errorf("%s: job %s takes the production lock but does not change production", file, j.k.Value)
		}
	}
}

func TestDeployWorkflowTestsBuildsChecksThenDeploysToProduction(t *testing.T) {
	wf := loadWorkflow(t, "deploy.yml")
	_, on := get(wf, "on")
	_, push := get(on, "push")
	_, branches := get(push, "branches")
	if len(pairs(on)) != 1 || len(items(branches)) != 1 || items(branches)[0].Value != "main" {
		t.Errorf("deploy.yml: want on: push: branches: [main] and nothing else")
	}
	if _, top := get(wf, "permissions"); top == nil || top.Kind != yaml.MappingNode || len(top.Content) != 0 {
		t.Errorf("deploy.yml: top-level permissions must be {}")
	}

	deployJobs := jobsUsing(wf, "./actions/deploy")
	if len(deployJobs) != 1 {
		t.Fatalf("deploy.yml: want one job using ./actions/deploy, got %v", deployJobs)
	}
	dj := deployJobs[0]
	if env := environmentName(job(wf, dj)); env != "production" {
		t.Errorf("deploy.yml: job %s environment = %q, want production", dj, env)
	}
	before := allNeeds(wf, dj)
	for _, ref := range []string{"./.github/workflows/ci.yml", "./actions/build-push", "./actions/policy-check"} {
		js := jobsUsing(wf, ref)
		if len(js) == 0 {
			t.Errorf("deploy.yml: no job uses %s", ref)
		}
		for _, j := range js {
			if !before[j] {
				t.Errorf("deploy.yml: job %s (%s) must run before %s (needs)", j, ref, dj)
			}
		}
	}
	// The policy check runs after the images exist: on the plan that deploys them.
	for _, pj := range jobsUsing(wf, "./actions/policy-check") {
		for _, bj := range jobsUsing(wf, "./actions/build-push") {
			if !allNeeds(wf, pj)[bj] {
				t.Errorf("deploy.yml: policy-check job %s must need build-push job %s", pj, bj)
			}
		}
		_, with := get(stepUsing(job(wf, pj), "./actions/policy-check"), "with")
		if _, plan := get(with, "plan-json"); plan == nil {
			t.Errorf("deploy.yml: policy-check in job %s is not given the plan (plan-json)", pj)
		}
	}

	// The image map travels as a job output from build-push to deploy.
	_, with := get(stepUsing(job(wf, dj), "./actions/deploy"), "with")
	_, im := get(with, "image-map")
	if im == nil || !regexp.MustCompile(`^\$\{\{\s*needs\.[\w-]+\.outputs\.image-map\s*\}\}$`).MatchString(im.Value) {
		t.Errorf("deploy.yml: ./actions/deploy image-map must be ${{ needs.<build job>.outputs.image-map }}, got %v", im)
	} else if from := needsOutRe.FindStringSubmatch(im.Value)[1]; !slices.Contains(jobsUsing(wf, "./actions/build-push"), from) {
		t.Errorf("deploy.yml: image-map comes from job %s, which does not run ./actions/build-push", from)
	}

	requireSummaryStep(t, "deploy.yml", job(wf, dj), "IMAGE_MAP", "VERDICTS")
	requireProductionLock(t, "deploy.yml", wf, dj)
	requireDroppedReport(t, "deploy.yml", wf, dj)
}

// requireDroppedReport: a job waiting for the production lock is cancelled
// when a newer one queues; a job after it must say so and fail the run.
func requireDroppedReport(t *testing.T, file string, wf *yaml.Node, locker string) {
	t.Helper()
	_, jobs := get(wf, "jobs")
	for _, j := range pairs(jobs) {
		_, cond := get(j.v, "if")
		if allNeeds(wf, j.k.Value)[locker] && cond != nil &&
			strings.Contains(cond.Value, "needs."+locker+".result == 'cancelled'") && strings.Contains(cond.Value, "always()") {
			return
		}
	}
	t.Errorf("%s: no job reports job %s cancelled (needs: %s, if: always() && needs.%s.result == 'cancelled')", file, locker, locker, locker)
}

func requireSummaryStep(t *testing.T, file string, j *yaml.Node, envs ...string) {
	t.Helper()
	_, steps := get(j, "steps")
	for _, st := range items(steps) {
		_, run := get(st, "run")
		_, cond := get(st, "if")
		_, env := get(st, "env")
		if run == nil || !strings.Contains(run.Value, "$GITHUB_STEP_SUMMARY") {
			continue
		}
		if cond == nil || !(strings.Contains(cond.Value, "always()") || strings.Contains(cond.Value, "!cancelled()")) {
			t.Errorf("%s: the summary step must run when the deploy fails too (if: !cancelled())", file)
		}
		for _, e := range envs {
			if k, _ := get(env, e); k == nil {
				t.Errorf("%s: the summary step has no env %s", file, e)
			}
		}
		return
	}
	t.Errorf("%s: no step writes the job summary ($GITHUB_STEP_SUMMARY)", file)
}

func TestRollbackWorkflowIsTypedAndSharesDeployProtection(t *testing.T) {
	wf := loadWorkflow(t, "rollback.yml")
	deploy := loadWorkflow(t, "deploy.yml")
	_, on := get(wf, "on")
	_, wd := get(on, "workflow_dispatch")
	if len(pairs(on)) != 1 || wd == nil {
		t.Fatalf("rollback.yml: want on: workflow_dispatch only")
	}
	_, inputs := get(wd, "inputs")
	choice := func(name string, want ...string) {
		_, in := get(inputs, name)
		_, typ := get(in, "type")
		_, opts := get(in, "options")
		if typ == nil || typ.Value != "choice" {
			t.Errorf("rollback.yml: input %s must be type: choice", name)
			return
		}
		var got []string
		for _, o := range items(opts) {
			got = append(got, o.Value)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("rollback.yml: input %s options %v lack %q", name, got, w)
			}
		}
	}
	choice("service", "all", "api", "worker", "dlq")
	choice("target", "last-completed", "revision", "digest")
	for _, name := range []string{"value", "reason"} {
		if k, _ := get(inputs, name); k == nil {
			t.Errorf("rollback.yml: no input %s", name)
		}
	}
	_, reason := get(inputs, "reason")
	if _, req := get(reason, "required"); req == nil || req.Value != "true" {
		t.Errorf("rollback.yml: reason must be required")
	}

	rj := jobsUsing(wf, "./actions/rollback")
	if len(rj) != 1 {
		t.Fatalf("rollback.yml: want one job using ./actions/rollback, got %v", rj)
	}
	requireProductionLock(t, "rollback.yml", wf, rj[0])
	requireDroppedReport(t, "rollback.yml", wf, rj[0])
	if g, _ := jobConcurrency(job(deploy, jobsUsing(deploy, "./actions/deploy")[0])); g != "production" {
		t.Errorf("deploy.yml's deploy job must share rollback's group production, has %q", g)
	}
	// The job builds ./actions/rollback from the dispatched ref and gets the
	// deploy role: only main's code may.
	if _, cond := get(job(wf, rj[0]), "if"); cond == nil || !regexp.MustCompile(`^\$\{\{\s*github\.ref\s*==\s*'refs/heads/main'\s*\}\}$`).MatchString(strings.TrimSpace(cond.Value)) {
		t.Errorf("rollback.yml: job %s must run only from main: if: ${{ github.ref == 'refs/heads/main' }}", rj[0])
	}
	if env := environmentName(job(wf, rj[0])); env != "production" {
		t.Errorf("rollback.yml: environment = %q, want production (deploy's protection rules)", env)
	}
	requireSummaryStep(t, "rollback.yml", job(wf, rj[0]), "VERDICTS", "REASON")
}

func TestPolicyCheckWorkflowRunsOnPullRequestsWithoutAWS(t *testing.T) {
	wf := loadWorkflow(t, "policy-check.yml")
	_, on := get(wf, "on")
	_, pr := get(on, "pull_request")
	if len(pairs(on)) != 1 || pr == nil {
		t.Fatalf("policy-check.yml: want on: pull_request only")
	}
	_, paths := get(pr, "paths")
	var got []string
	for _, p := range items(paths) {
		got = append(got, p.Value)
	}
	for _, w := range []string{"infra/**", "policies/**", "services/**", "actions/**"} {
		if !slices.Contains(got, w) {
			t.Errorf("policy-check.yml: paths %v lack %s", got, w)
		}
	}
	if js := jobsUsing(wf, "aws-actions/configure-aws-credentials"); len(js) > 0 {
		t.Errorf("policy-check.yml: jobs %v take AWS credentials; pull requests get none", js)
	}
	checks := jobsUsing(wf, "./actions/policy-check")
	uploads := jobsUsing(wf, "github/codeql-action/upload-sarif")
	if len(checks) != 1 || !slices.Equal(checks, uploads) {
		t.Fatalf("policy-check.yml: want one job running ./actions/policy-check and uploading its SARIF, got %v and %v", checks, uploads)
	}
	j := job(wf, checks[0])
	_, steps := get(j, "steps")
	var sarifIn, sarifUp string
	for _, st := range items(steps) {
		_, u := get(st, "uses")
		_, with := get(st, "with")
		switch {
		case u == nil:
		case u.Value == "./actions/policy-check":
			_, f := get(with, "format")
			if f == nil || f.Value != "github" {
				t.Errorf("policy-check.yml: format must be github, for annotations on the diff")
			}
			if _, s := get(with, "sarif-file"); s != nil {
				sarifIn = s.Value
			}
		case strings.HasPrefix(u.Value, "github/codeql-action/upload-sarif@"):
			if _, s := get(with, "sarif_file"); s != nil {
				sarifUp = s.Value
			}
			if _, cond := get(st, "if"); cond == nil || !(strings.Contains(cond.Value, "always()") || strings.Contains(cond.Value, "!cancelled()")) {
				t.Errorf("policy-check.yml: the SARIF must be uploaded when the check fails (if: !cancelled())")
			}
		}
	}
	if sarifIn == "" || sarifIn != sarifUp {
		t.Errorf("policy-check.yml: the SARIF the check writes (%q) is not the one uploaded (%q)", sarifIn, sarifUp)
	}
}

func TestCIWorkflowTestsAndLintsPullRequests(t *testing.T) {
	wf := loadWorkflow(t, "ci.yml")
	_, on := get(wf, "on")
	if k, _ := get(on, "pull_request"); k == nil {
		t.Errorf("ci.yml: must run on pull_request")
	}
	if k, _ := get(on, "workflow_call"); k == nil {
		t.Errorf("ci.yml: deploy.yml calls it as its test job, so it needs workflow_call")
	}
	var scripts []string
	walkScalars(wf, func(s *yaml.Node) { scripts = append(scripts, s.Value) })
	all := strings.Join(scripts, "\n")
	for _, want := range []string{".ci/run", "actionlint@v1.7.12", "go vet"} {
		if !strings.Contains(all, want) {
			t.Errorf("ci.yml: nothing runs %s", want)
		}
	}
}
