// Package liveness lets a service without a port show that it is still
// making progress. The service touches a file each time it completes a
// call to SQS (its work loop long-polls, heartbeats and deletes, so a
// healthy process calls SQS at least every long poll plus backoff), and the
// container health check runs the same binary as `<binary> health -file F
// -max-age D`, which fails once the file is older than D. A process whose
// loop is stuck (a deadlock, a call that never returns) stops touching the
// file, the check fails, and ECS replaces the task; during a deployment the
// circuit breaker counts it. The images are scratch images: there is no
// shell or curl to write the check with, so the binary is the check.
package liveness

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// Touch sets the file's modification time to now, creating it if needed.
func Touch(path string, now time.Time) error {
	if err := os.Chtimes(path, now, now); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("liveness: touch %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("liveness: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("liveness: create %s: %w", path, err)
	}
	return os.Chtimes(path, now, now)
}

// Check returns nil if the file was touched at most maxAge before now, and
// an error that says how stale it is otherwise.
func Check(path string, maxAge time.Duration, now time.Time) error {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("liveness: %s does not exist: the process has not completed a single call yet", path)
		}
		return fmt.Errorf("liveness: %w", err)
	}
	if age := now.Sub(st.ModTime()); age > maxAge {
		return fmt.Errorf("liveness: %s last touched %s ago, more than the %s allowed: the work loop is stuck", path, age.Round(time.Second), maxAge)
	}
	return nil
}

// Health is the `health` subcommand: it parses -file and -max-age from
// args, checks the file and returns the exit code for the container health
// check (0 healthy, 1 unhealthy, 2 bad usage), writing the reason to
// stderr.
func Health(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("health", flag.ContinueOnError)
	fl.SetOutput(stderr)
	file := fl.String("file", "", "the liveness file the service touches")
	maxAge := fl.Duration("max-age", 90*time.Second, "how old the file may be")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "health: -file is required (the path in CONVEYOR_LIVENESS_FILE)")
		return 2
	}
	if err := Check(*file, *maxAge, time.Now()); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// SQSOption returns an sqs client option that touches path after every
// call the client completes, successful or not: a failing call still shows
// a loop that runs (and retrying is what it should do). An empty path
// (local runs without a health check) changes nothing.
func SQSOption(path string) func(*sqs.Options) {
	return func(o *sqs.Options) {
		if path == "" {
			return
		}
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("conveyor-liveness",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleDeserialize(ctx, in)
					// A touch that fails leaves the file stale, so the health
					// check reports it: nothing to do here.
					_ = Touch(path, time.Now())
					return out, md, err
				}), middleware.After)
		})
	}
}
