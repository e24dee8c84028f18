// Command pipeline runs conveyor's push-to-deploy pipeline end to end on the
// local world, the way the GitHub run does it, on this machine:
//
//  1. start the stand-ins: moto, an in-process OCI registry, and the ECS
//     rollout stand-in in real-task mode (internal/realtask) behind the
//     local gRPC load balancer (internal/grpclb);
//  2. build and push the three images (the build-push action, twice: v1, v2);
//  3. policy-check the Terraform plan of infra/environments/local (terraform
//     plan, show -json, the policy-check action on the exact planned IAM);
//  4. apply that plan to moto;
//  5. deploy v1: the services Terraform defined, created in the ECS stand-in
//     with the v1 images, running as real processes in two simulated AZs;
//  6. submit a batch of tasks through the load balancer and show them done;
//  7. roll out v2 under load with the deploy action;
//  8. print the deploy verdicts and step summary, and the traffic figures.
//
// Everything is on loopback, in a temporary directory, and is cleaned up on
// success, on error and on Ctrl-C.
//
//	go run ./demo/pipeline
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/conveyor-dev/conveyor/internal/taskload"
	"github.com/conveyor-dev/conveyor/internal/testenv"
)

func main() {
	keep := flag.Bool("keep", false, "keep the temporary directory (task logs, terraform state) for inspection")
	scale := flag.Float64("time-scale", 0.1, "multiply the target group's health-check interval and deregistration delay by this (1 = production timings)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, *keep, *scale)
	os.Exit(code)
}

// pipeline is one run: what it started, so cleanup can stop all of it.
type pipeline struct {
	root     string // the module root (the checkout)
	dir      string // temporary: binaries, terraform copy, logs
	scale    float64
	cleanups []func()
	started  time.Time
	step     int
	stepAt   time.Time
	timings  []string
}

const steps = 8

func run(ctx context.Context, keep bool, scale float64) int {
	root, err := testenv.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "conveyor-pipeline-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		return 1
	}
	p := &pipeline{root: root, dir: dir, scale: scale, started: time.Now()}
	defer func() {
		p.cleanup()
		if keep {
			fmt.Printf("kept %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	err = p.run(ctx)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "\ninterrupted: cleaning up")
		return 130
	case errors.Is(err, errVerdict):
		fmt.Fprintln(os.Stderr, "pipeline: the deployment did not succeed (see the verdicts above)")
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "pipeline failed at step %d/%d: %v\n", p.step, steps, err)
		return 1
	}
	return 0
}

var errVerdict = errors.New("deploy verdict is not SUCCEEDED")

// begin announces a step and records how long the previous one took.
func (p *pipeline) begin(name string) {
	now := time.Now()
	if p.step > 0 {
		p.timings = append(p.timings, fmt.Sprintf("%d. %-44s %s", p.step, p.stepName(), now.Sub(p.stepAt).Round(100*time.Millisecond)))
	}
	p.step++
	p.stepAt = now
	stepNames[p.step] = name
	fmt.Printf("\n==> [%d/%d] %s  (%s)\n", p.step, steps, name, now.Sub(p.started).Round(time.Second))
}

var stepNames = map[int]string{}

func (p *pipeline) stepName() string { return stepNames[p.step] }

func (p *pipeline) logf(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}

func (p *pipeline) onCleanup(f func()) { p.cleanups = append(p.cleanups, f) }

func (p *pipeline) cleanup() {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
	p.cleanups = nil
}

func (p *pipeline) run(ctx context.Context) error {
	p.begin("start the stand-ins (moto, OCI registry, ECS stand-in with real tasks)")
	w, err := startWorld(ctx, p)
	if err != nil {
		return err
	}
	p.begin("build and push the images (build-push action: v1, v2)")
	bins, err := p.buildTools(ctx, "build-push", "policy-check", "deploy")
	if err != nil {
		return err
	}
	v1, err := p.buildPush(ctx, bins["build-push"], w.registry, "v1")
	if err != nil {
		return err
	}
	v2, err := p.buildPush(ctx, bins["build-push"], w.registry, "v2")
	if err != nil {
		return err
	}
	p.begin("policy-check the plan of infra/environments/local")
	infra, err := p.plan(ctx, w)
	if err != nil {
		return err
	}
	if err := p.policyCheck(ctx, bins["policy-check"], infra); err != nil {
		return err
	}
	p.begin("apply infra/environments/local to moto")
	out, err := p.apply(ctx, infra)
	if err != nil {
		return err
	}
	p.begin("deploy v1 (the services Terraform defined, as real tasks)")
	if err := w.createServices(ctx, out, v1); err != nil {
		return err
	}
	p.begin("submit a batch of tasks through the load balancer")
	if err := w.batch(ctx, 12); err != nil {
		return err
	}
	p.begin("roll out v2 under load (deploy action)")
	l := w.startLoad(ctx, 4, 100*time.Millisecond)
	code, summary, err := p.deploy(ctx, bins["deploy"], w, out, v2)
	l.End()
	if err != nil {
		return err
	}
	p.begin("verdicts and summary")
	fmt.Println()
	fmt.Println(indent(summary))
	p.logf("traffic during the rollout: %s", l)
	open := taskload.Settle(ctx, w.client, l.Accepted(), 60*time.Second)
	p.logf("tasks accepted during the rollout: %s", open)
	p.timings = append(p.timings, fmt.Sprintf("%d. %-44s %s", p.step, p.stepName(), time.Since(p.stepAt).Round(100*time.Millisecond)))
	fmt.Println("\n    time per step:")
	for _, t := range p.timings {
		fmt.Println("      " + t)
	}
	fmt.Printf("    total %s; task logs in %s (kept with -keep)\n", time.Since(p.started).Round(time.Second), filepath.Join(p.dir, "tasks", "logs"))
	if code != 0 {
		return errVerdict
	}
	if _, failed := l.Counts(); failed > 0 {
		return fmt.Errorf("%d RPCs failed during the rollout (zero downtime broken)", failed)
	}
	return nil
}
