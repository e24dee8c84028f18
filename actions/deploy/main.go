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

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcontract"
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
	{Name: "git-sha", Usage: "commit to tag the task definitions with (default: GITHUB_SHA)"},
	{Name: "apply-infra", Default: "false", Usage: "run terraform init, plan, checks and apply before deploying"},
	{Name: "infra-dir", Default: "infra/environments/production", Usage: "Terraform root module to apply"},
	{Name: "allow-replace", Usage: "stateful resources (addresses or types) the plan may destroy or replace, comma-separated"},
}, step.Inputs...)

func main() {
	os.Exit(Run(context.Background(), os.Args[1:], os.Getenv, os.Stdout))
}

// Run is the action: it returns the exit code (0 only if every service
// SUCCEEDED, 1 on any other verdict, 2 on bad inputs).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) int {
	gh := gha.NewRunner(getenv, stdout)
	in, err := gha.Parse("deploy", args, getenv, inputs, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		gh.Error(gha.Annotation{Title: "deploy: inputs", Message: err.Error()})
		return 2
	}
	o, images, err := options(in, gh)
	if err != nil {
		gh.Error(gha.Annotation{Title: "deploy: inputs", Message: err.Error()})
		return 2
	}
	// Every input is checked before anything is applied or deployed.
	apply, err := in.Bool("apply-infra")
	if err != nil {
		gh.Error(gha.Annotation{Title: "deploy: inputs", Message: err.Error()})
		return 2
	}
	rb, err := in.Bool("rollback")
	if err != nil {
		gh.Error(gha.Annotation{Title: "deploy: inputs", Message: err.Error()})
		return 2
	}
	if apply {
		gh.Group("terraform apply " + in.String("infra-dir"))
		res, err := infraapply.Apply(ctx, infraapply.Options{Dir: in.String("infra-dir"), AllowReplace: in.List("allow-replace"), PlanCheck: planCheck(in.String("infra-dir"), gh), Log: gh.Log()})
		gh.EndGroup()
		if err != nil {
			gh.Error(gha.Annotation{Title: "deploy: infrastructure", Message: err.Error()})
			_ = gh.Summary("## conveyor deploy\n\nInfrastructure was not applied, so nothing was deployed:\n\n```\n" + err.Error() + "\n```\n")
			return 1
		}
		gh.Logf("infrastructure: %s", res)
	}
	api, err := rollout.NewClient(ctx, getenv, in.String("aws-region"))
	if err != nil {
		gh.Error(gha.Annotation{Title: "deploy: AWS", Message: err.Error()})
		return 1
	}
	sha := in.String("git-sha")
	if sha == "" {
		sha = getenv("GITHUB_SHA")
	}
	results, w, err := rollout.Deploy(ctx, api, o, images, sha, rb)
	if err != nil {
		gh.Error(gha.Annotation{Title: "deploy: " + o.Cluster, Message: err.Error()})
		return 1
	}
	return step.Report(gh, "conveyor deploy", results, w)
}

// planCheck checks the planned IAM (exact values, after Terraform resolved
// every reference) against the contract in policies/ found above the infra
// directory, before anything is applied. Findings become annotations; any
// error-level finding stops the apply.
func planCheck(infraDir string, gh *gha.Runner) func(context.Context, *tfjson.Plan) error {
	return func(_ context.Context, p *tfjson.Plan) error {
		var contract *iamcontract.Contract
		if path := policycheck.FindContract(infraDir); path != "" {
			c, err := iamcontract.Load(path)
			if err != nil {
				return fmt.Errorf("policy check on the plan: load contract %s: %w", path, err)
			}
			contract = c
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

func options(in gha.Values, gh *gha.Runner) (rollout.Options, map[string]plan.Image, error) {
	var o rollout.Options
	images, err := plan.ParseImageMap(in.String("image-map"))
	if err != nil {
		return o, nil, err
	}
	o, err = step.Common("deploy", in, gh)
	return o, images, err
}
