// Command deploy is the conveyor deploy action: optionally apply the
// infrastructure (terraform plan → policy check → apply), then roll the
// images from build-push out to the ECS services in parallel and watch them
// to an honest verdict, rolling back what fails. It runs the same as a
// GitHub Action (INPUT_* variables) and as a command (--flags).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/infraapply"
	"github.com/conveyor-dev/conveyor/actions/internal/policycheck"
	"github.com/conveyor-dev/conveyor/actions/internal/policyreport"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/step"
	tfjson "github.com/hashicorp/terraform-json"
)

var inputs = append([]gha.Input{
	{Name: "image-map", Required: true, Usage: `build-push's images output: {"api":"repo/api@sha256:…",…}; keys are container names`},
	{Name: "rollback", Default: "true", Usage: "roll back failed or timed-out deployments that ECS did not roll back"},
	{Name: "rollback-budget", Usage: "the part of timeout kept for that rollback (default: a third of timeout)"},
	{Name: "force", Default: "false", Usage: "deploy even when every service already runs the image map's digests"},
	{Name: "git-sha", Usage: "commit to tag the task definitions with (default: GITHUB_SHA)"},
	{Name: "apply-infra", Default: "false", Usage: "run terraform init, plan, checks and apply before deploying"},
	{Name: "infra-dir", Default: "infra/environments/production", Usage: "Terraform root module to apply"},
	{Name: "allow-replace", Usage: "stateful resources (addresses or types) the plan may destroy or replace, comma-separated"},
}, step.Inputs...)

func main() {
	// The runner cancels a job with SIGINT, then SIGTERM: the watch then
	// ends with a last read, and every output and the summary are written
	// before the runner's SIGKILL.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const title = "conveyor deploy"

// run is the action: it returns the exit code (0 only if every service
// SUCCEEDED, 1 on any other verdict or error, 2 on bad inputs). Every
// output is written on every path.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	gh := gha.NewRunner(getenv, stdout)
	in, err := gha.Parse("deploy", args, getenv, inputs, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return step.Fail(gh, title, "inputs", err, 2)
	}
	// Every input is checked before anything is applied or deployed.
	o, images, apply, rb, err := options(in, gh)
	if err != nil {
		return step.Fail(gh, title, "inputs", err, 2)
	}
	if apply {
		gh.Group("terraform apply " + in.String("infra-dir"))
		res, err := infraapply.Apply(ctx, infraapply.Options{Dir: in.String("infra-dir"), AllowReplace: in.List("allow-replace"), PlanCheck: planCheck(in.String("infra-dir"), gh), Log: gh.Log()})
		gh.EndGroup()
		if err != nil {
			return step.Fail(gh, title, "infrastructure not applied, so nothing was deployed", err, 1)
		}
		gh.Logf("infrastructure: %s", res)
	}
	api, err := rollout.NewClient(ctx, getenv, in.String("aws-region"))
	if err != nil {
		return step.Fail(gh, title, "AWS", err, 1)
	}
	sha := in.String("git-sha")
	if sha == "" {
		sha = getenv("GITHUB_SHA")
	}
	results, w, err := rollout.Deploy(ctx, api, o, images, sha, rb)
	if err != nil {
		return step.Fail(gh, title, "cluster "+o.Cluster, err, 1)
	}
	budget := rollout.Budget{Timeout: o.Timeout}
	if rb {
		budget.Rollback = o.RollbackBudgetOrDefault()
	}
	return step.Report(gh, title, results, w, budget)
}

// planCheck checks the planned IAM (exact values, after Terraform resolved
// every reference) against the contract in policies/ found above the infra
// directory, before anything is applied. Findings become annotations; any
// error-level finding stops the apply.
func planCheck(infraDir string, gh *gha.Runner) func(context.Context, *tfjson.Plan) error {
	return func(_ context.Context, p *tfjson.Plan) error {
		contract, err := policycheck.LoadContract("", infraDir, false)
		if err != nil {
			return fmt.Errorf("policy check on the plan: %w", err)
		}
		findings := policycheck.CheckPlan(p, contract)
		if err := policyreport.GitHub(gh, findings); err != nil {
			return fmt.Errorf("policy check on the plan: report: %w", err)
		}
		if policycheck.HasErrors(findings) {
			return fmt.Errorf("policy check on the plan: %d finding(s), see the annotations; nothing was applied", len(findings))
		}
		return nil
	}
}

func options(in gha.Values, gh *gha.Runner) (o rollout.Options, images map[string]plan.Image, apply, rb bool, err error) {
	var errs []error
	if images, err = plan.ParseImageMap(in.String("image-map")); err != nil {
		errs = append(errs, err)
	}
	if o, err = step.Common("deploy", in, gh); err != nil {
		errs = append(errs, err)
	}
	if apply, err = in.Bool("apply-infra"); err != nil {
		errs = append(errs, err)
	}
	if rb, err = in.Bool("rollback"); err != nil {
		errs = append(errs, err)
	}
	if o.Force, err = in.Bool("force"); err != nil {
		errs = append(errs, err)
	}
	if in.String("rollback-budget") != "" {
		if o.RollbackBudget, err = in.Duration("rollback-budget"); err != nil {
			errs = append(errs, err)
		} else if o.RollbackBudget <= 0 {
			// 0 would silently mean "the default third"; no time at all
			// is rollback: false.
			errs = append(errs, fmt.Errorf("rollback-budget: %s: must be more than 0 (to not roll back, set rollback: false)", in.String("rollback-budget")))
		} else if o.RollbackBudget >= o.Timeout {
			errs = append(errs, fmt.Errorf("rollback-budget: %s leaves nothing of timeout %s for the deployments", o.RollbackBudget, o.Timeout))
		}
	}
	if rb && o.Settle > 0 && o.Timeout > 0 && o.Settle >= o.Timeout-o.RollbackBudgetOrDefault() {
		errs = append(errs, fmt.Errorf("settle: %s is not shorter than the %s timeout %s leaves the deployments after the rollback budget %s: no deployment could settle in time",
			o.Settle, o.Timeout-o.RollbackBudgetOrDefault(), o.Timeout, o.RollbackBudgetOrDefault()))
	}
	return o, images, apply, rb, errors.Join(errs...)
}
