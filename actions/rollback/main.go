// Command rollback is the conveyor rollback action (workflow_dispatch): send
// services back to what the last successful service deployment before the
// current one ran (the default, read from ECS's ListServiceDeployments), a
// task definition revision of the service's own family, or the newest
// revision running an image digest, and watch the rollback to a verdict. It never deregisters a
// task definition, so every earlier revision stays a possible target. It
// runs the same as a GitHub Action (INPUT_* variables) and as a command
// (--flags).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/step"
)

var inputs = append([]gha.Input{
	{Name: "to", Default: "last-completed", Usage: "target: last-completed, a revision (42 or family:42, applied to each service's family), a task definition ARN, or sha256:<digest>"},
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

const title = "conveyor rollback"

// run is the action: 0 if every service is back on its target (or already
// was), 1 otherwise, 2 on bad inputs, a target of another family among
// them. Every output is written on every path.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	gh := gha.NewRunner(getenv, stdout)
	in, err := gha.Parse("rollback", args, getenv, inputs, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return step.Fail(gh, title, "inputs", err, 2)
	}
	o, err := step.Common("rollback", in, gh)
	if err != nil {
		return step.Fail(gh, title, "inputs", err, 2)
	}
	target, err := plan.ParseTarget(in.String("to"))
	if err != nil {
		return step.Fail(gh, title, "inputs", err, 2)
	}
	api, err := rollout.NewClient(ctx, getenv, in.String("aws-region"))
	if err != nil {
		return step.Fail(gh, title, "AWS", err, 1)
	}
	results, w, err := rollout.Rollback(ctx, api, o, target)
	var te *rollout.TargetError
	if errors.As(err, &te) {
		return step.Fail(gh, title, "inputs", err, 2)
	}
	if err != nil {
		return step.Fail(gh, title, "cluster "+o.Cluster, err, 1)
	}
	return step.Report(gh, title, results, w, rollout.Budget{Timeout: o.Timeout})
}
