// Command demo runs the system locally (`make demo`): it starts moto,
// creates the tasks table and queues, builds and starts every service in
// services/catalog as a process, submits a handful of tasks with taskctl and shows them
// to completion, then shuts everything down, on success, on error and on
// Ctrl-C alike. Service logs go to files named in the output.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
	"github.com/conveyor-dev/conveyor/services/local/localrun"
	"github.com/conveyor-dev/conveyor/services/local/provision"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

// demo is the local system being shown.
type demo struct {
	dir   string // binaries and logs
	moto  *motoserver.Server
	cfg   aws.Config
	world provision.World
	bins  map[string]string
	procs []*localrun.Proc
	api   string // api address
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "conveyor-demo-")
	if err != nil {
		return err
	}
	d := &demo{dir: dir}
	defer d.cleanup()

	for _, f := range []func(context.Context) error{
		d.startMoto, d.createWorld, d.buildServices, d.startServices, d.submitAndWatch,
	} {
		if err := f(ctx); err != nil {
			if ctx.Err() != nil {
				return errors.New("interrupted")
			}
			return err
		}
	}
	return nil
}

func (d *demo) startMoto(ctx context.Context) error {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return errors.New("moto_server not found on PATH: install it with `pip install \"moto[server]\"`")
	}
	step("starting moto (local DynamoDB and SQS)")
	d.moto, err = motoserver.Launch(context.WithoutCancel(ctx), bin)
	if err != nil {
		return err
	}
	d.cfg, err = d.moto.Config(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("    moto on %s\n", d.moto.URL)
	return nil
}

func (d *demo) createWorld(ctx context.Context) error {
	step("creating the tasks table, the tasks queue and its dead-letter queue (maxReceiveCount 2)")
	var err error
	d.world, err = provision.Create(ctx, d.cfg, provision.UniqueName("conveyor-demo"), provision.Options{MaxReceiveCount: 2})
	if err != nil {
		return err
	}
	fmt.Printf("    table %s\n    queue %s\n    dlq   %s\n", d.world.Table, d.world.QueueURL, d.world.DLQURL)
	return nil
}

func (d *demo) buildServices(ctx context.Context) error {
	names := append(catalog.Names(), localrun.Client)
	step("building %s", strings.Join(names, ", "))
	var err error
	d.bins, err = localrun.Build(ctx, d.dir, names...)
	return err
}

// startServices starts every catalogued service, in catalogue order, with
// short polls so the demo moves quickly; a service with a port gets a free
// loopback address.
func (d *demo) startServices(ctx context.Context) error {
	common := append(d.moto.Env(), d.world.Env()...)
	common = append(common, "CONVEYOR_WAIT_TIME=2s", "CONVEYOR_RETRY_DELAY=1s", "CONVEYOR_DRAIN_WINDOW=1s")
	for _, s := range catalog.Services {
		env := common
		if s.Port != 0 {
			addr, err := testenv.FreeAddr()
			if err != nil {
				return err
			}
			env = append(env[:len(env):len(env)], "CONVEYOR_LISTEN="+addr)
			if s.Name == "api" {
				d.api = addr
			}
		}
		logPath := filepath.Join(d.dir, s.Name+".log")
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		p, err := localrun.Start(s.Name, d.bins[s.Name], env, f)
		if err != nil {
			return err
		}
		d.procs = append(d.procs, p)
		if _, err := p.WaitLog(30*time.Second, localrun.ReadyLog(s)); err != nil {
			return fmt.Errorf("%w (log: %s)", err, logPath)
		}
		step("started %s (pid %d, log %s)", s.Name, p.Pid(), logPath)
	}
	if d.api == "" {
		return errors.New("no api in services/catalog: the demo submits its tasks to the api")
	}
	return ctx.Err()
}

// submitAndWatch submits a few tasks, one of them twice and one poisonous,
// and watches them until they are SUCCEEDED or DEAD.
func (d *demo) submitAndWatch(ctx context.Context) error {
	step("submitting tasks with taskctl --addr %s", d.api)
	var ids []string
	for _, t := range []struct{ key, typ, payload string }{
		{"demo-echo-0001", "echo", "hello, conveyor"},
		{"demo-echo-0001", "echo", "hello, conveyor"}, // a retry: the same task comes back
		{"demo-hash-0001", "hash", "200000:demo"},
		{"demo-sleep-0001", "sleep", "2s"},
		{"demo-fail-0001", "fail", "poison"},
	} {
		out, err := d.taskctl(ctx, "--json", "submit", "--key", t.key, "--type", t.typ, "--payload", t.payload)
		if err != nil {
			return err
		}
		id, dedup, err := taskID(out)
		if err != nil {
			return err
		}
		note := ""
		if dedup {
			note = " (deduplicated: same key, same request, same task)"
		}
		fmt.Printf("    submitted %-5s key=%s -> %s%s\n", t.typ, t.key, id, note)
		if len(ids) == 0 || ids[len(ids)-1] != id {
			ids = append(ids, id)
		}
	}
	step("watching %d tasks until each is SUCCEEDED or DEAD (the fail task is DEAD after 3 failed runs: its message reaches the DLQ after 2 deliveries and the dlq service re-drives it, because deliveries are not failures)", len(ids))
	cmd := exec.CommandContext(ctx, d.bins["taskctl"], append([]string{"--addr", d.api, "watch"}, ids...)...)
	cmd.Stdout, cmd.Stderr = prefixed{}, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		step("done: every task finished; the fail task is DEAD, as intended")
		return nil
	}
	if err != nil {
		return fmt.Errorf("taskctl watch: %w", err)
	}
	return errors.New("taskctl watch reported no DEAD task, but the fail task should have died")
}

func (d *demo) taskctl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.bins["taskctl"], append([]string{"--addr", d.api}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("taskctl %v: %w", args, err)
	}
	return out, nil
}

// cleanup stops the services with SIGTERM (they shut down gracefully),
// stops moto and removes the binaries and logs.
func (d *demo) cleanup() {
	if len(d.procs) > 0 {
		step("stopping the services (SIGTERM)")
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		if !p.Exited() {
			_ = p.Signal(syscall.SIGTERM)
		}
		code, err := p.Wait(30 * time.Second)
		if err != nil {
			fmt.Printf("    %s: %v\n", p.Name, err)
			continue
		}
		fmt.Printf("    %s exited with status %d\n", p.Name, code)
	}
	if d.moto != nil {
		d.moto.Stop()
	}
	_ = os.RemoveAll(d.dir)
}
