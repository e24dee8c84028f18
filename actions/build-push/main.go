// Command build-push is the build-push action: it builds conveyor's service
// images without a Docker daemon and pushes them to a registry or writes an
// OCI layout. It reads its inputs from the runner's INPUT_* variables or from
// --flags of the same names; the work is in actions/internal/buildpush.
//
// Exit 0: every image built and published; 1: a build or push failed; 2: bad
// inputs (nothing was built).
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/conveyor-dev/conveyor/actions/internal/buildpush"
	"github.com/conveyor-dev/conveyor/actions/internal/gha"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	r := gha.NewRunner(getenv, stdout)
	fail := func(code int, err error) int {
		r.Error(gha.Annotation{Title: "build-push", Message: err.Error()})
		_ = r.SetOutputs(buildpush.FailedOutputs())
		return code
	}
	in, err := gha.Parse("build-push", args, getenv, buildpush.Inputs, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return fail(2, err)
	}
	o, err := buildpush.FromInputs(ctx, in, getenv)
	if err != nil {
		return fail(2, err)
	}
	o.Build.Log = r.Log()
	res, err := buildpush.Run(ctx, o, r)
	if err != nil {
		return fail(1, err)
	}
	outs, err := res.Outputs()
	if err == nil {
		err = r.SetOutputs(outs)
	}
	if err == nil {
		err = r.Summary(res.Summary())
	}
	if err != nil {
		return fail(1, err)
	}
	return 0
}
