// Package infraapply applies a Terraform root module the careful way:
// init, plan to a file, read that exact plan (show -json), run the checks on
// it (the policy hook, and no destroying of stateful resources unless
// allowed), then apply that same plan file, so what was checked is what runs.
package infraapply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// StatefulTypes hold data that a replacement would lose.
var StatefulTypes = []string{"aws_dynamodb_table", "aws_sqs_queue", "aws_ecr_repository"}

// Options configure one apply.
type Options struct {
	Dir string // the root module
	// ExecPath is the terraform binary (default: terraform on PATH).
	ExecPath string
	// AllowReplace lists resource addresses (module.data.aws_sqs_queue.dlq)
	// or types whose destruction or replacement is intended.
	AllowReplace []string
	// PlanCheck runs on the plan before anything is applied (the policy
	// check on the planned IAM); an error stops the apply.
	PlanCheck func(context.Context, *tfjson.Plan) error
	// Vars are -var name=value pairs; Env adds variables to terraform's
	// environment (e.g. TF_CLI_CONFIG_FILE, AWS endpoints).
	Vars []string
	Env  map[string]string
	Log  io.Writer
}

// Result says what an apply did.
type Result struct {
	Create, Update, Delete  int
	Replace                 int
	AllowedStatefulReplaces []string
	NoChanges               bool
}

func (r *Result) String() string {
	if r.NoChanges {
		return "no changes"
	}
	s := fmt.Sprintf("%d to add, %d to change, %d to destroy (%d replaced)", r.Create, r.Update, r.Delete, r.Replace)
	if len(r.AllowedStatefulReplaces) > 0 {
		s += "; allowed to destroy: " + strings.Join(r.AllowedStatefulReplaces, ", ")
	}
	return s
}

// Violation is a stateful resource the plan would destroy.
type Violation struct {
	Address string
	Actions tfjson.Actions
	// Because lists the attributes that force a replacement.
	Because []string
}

func (v Violation) String() string {
	verb := "destroy"
	if v.Actions.Replace() {
		verb = "replace (destroy and re-create)"
	}
	s := fmt.Sprintf("%s: the plan would %s it and lose its data", v.Address, verb)
	if len(v.Because) > 0 {
		s += "; forced by a change to " + strings.Join(v.Because, ", ")
	}
	return s
}

// Stateful lists the stateful resources the plan destroys or replaces that
// allow does not name (by address or by type), and the allowed ones.
func Stateful(p *tfjson.Plan, allow []string) (violations []Violation, allowed []string) {
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil || !slices.Contains(StatefulTypes, rc.Type) || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		a := rc.Change.Actions
		if !a.Delete() && !a.Replace() {
			continue
		}
		if slices.Contains(allow, rc.Address) || slices.Contains(allow, rc.Type) {
			allowed = append(allowed, rc.Address)
			continue
		}
		v := Violation{Address: rc.Address, Actions: a}
		for _, path := range rc.Change.ReplacePaths {
			if steps, ok := path.([]any); ok {
				var parts []string
				for _, s := range steps {
					parts = append(parts, fmt.Sprint(s))
				}
				v.Because = append(v.Because, strings.Join(parts, "."))
			}
		}
		violations = append(violations, v)
	}
	sort.Slice(violations, func(i, j int) bool { return violations[i].Address < violations[j].Address })
	return violations, allowed
}

// ErrStatefulDestroy marks a plan stopped because it destroys data.
var ErrStatefulDestroy = errors.New("the plan destroys stateful resources")

// Apply runs init, plan, the checks and apply.
func Apply(ctx context.Context, o Options) (*Result, error) {
	execPath := o.ExecPath
	if execPath == "" {
		p, err := exec.LookPath("terraform")
		if err != nil {
			return nil, fmt.Errorf("terraform CLI not found on PATH: install Terraform 1.11 (hashicorp/setup-terraform in a workflow)")
		}
		execPath = p
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("terraform root module %s: %w: point infra-dir at the environment to apply (e.g. infra/environments/production)", o.Dir, err)
	}
	tf, err := tfexec.NewTerraform(dir, execPath)
	if err != nil {
		return nil, fmt.Errorf("terraform in %s: %w", o.Dir, err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for k, v := range o.Env {
		env[k] = v
	}
	if err := tf.SetEnv(tfexec.CleanEnv(env)); err != nil {
		return nil, err
	}
	if o.Log != nil {
		tf.SetStdout(o.Log)
		tf.SetStderr(o.Log)
	}
	if err := tf.Init(ctx); err != nil {
		return nil, fmt.Errorf("terraform init in %s: %w", o.Dir, err)
	}
	planDir, err := os.MkdirTemp("", "conveyor-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(planDir)
	// The plan file lives only as long as this call: it is applied below.
	planFile := filepath.Join(planDir, "tfplan")
	res := &Result{}
	opts := []tfexec.PlanOption{tfexec.Out(planFile)}
	for _, v := range o.Vars {
		opts = append(opts, tfexec.Var(v))
	}
	changes, err := tf.Plan(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("terraform plan in %s: %w", o.Dir, err)
	}
	if !changes {
		res.NoChanges = true
		return res, nil
	}
	p, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return nil, fmt.Errorf("terraform show -json of the plan in %s: %w", o.Dir, err)
	}
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil {
			continue
		}
		switch a := rc.Change.Actions; {
		case a.Replace():
			res.Replace++
			res.Create++
			res.Delete++
		case a.Create():
			res.Create++
		case a.Update():
			res.Update++
		case a.Delete():
			res.Delete++
		}
	}
	violations, allowed := Stateful(p, o.AllowReplace)
	res.AllowedStatefulReplaces = allowed
	if len(violations) > 0 {
		var lines []string
		for _, v := range violations {
			lines = append(lines, "  "+v.String())
		}
		return res, fmt.Errorf("%w in %s; nothing was applied:\n%s\nIf this is intended, pass the addresses in allow-replace (after moving or backing up the data)",
			ErrStatefulDestroy, o.Dir, strings.Join(lines, "\n"))
	}
	if o.PlanCheck != nil {
		if err := o.PlanCheck(ctx, p); err != nil {
			return res, fmt.Errorf("plan check on %s failed; nothing was applied: %w", o.Dir, err)
		}
	}
	if err := tf.Apply(ctx, tfexec.DirOrPlan(planFile)); err != nil {
		return res, fmt.Errorf("terraform apply of the checked plan in %s: %w", o.Dir, err)
	}
	return res, nil
}
