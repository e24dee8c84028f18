// Command taskctl submits tasks to the api and watches them, for people
// (one line per task or change) and for scripts (--json: one JSON object per
// line; exit status 2 when a watched task ends DEAD).
//
//	taskctl [--addr HOST:PORT] [--tls] [--json] submit --type echo --payload hello [--key K] [--wait]
//	taskctl [flags] get TASK_ID
//	taskctl [flags] watch TASK_ID...
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/conveyor-dev/conveyor/services/internal/version"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitDead  = 2 // a watched task ended DEAD
	exitUsage = 64
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type cli struct {
	client taskv1.TaskServiceClient
	json   bool
	out    io.Writer
	poll   time.Duration
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("taskctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr(getenv, "CONVEYOR_API_ADDR", "localhost:8080"), "api address host:port (env CONVEYOR_API_ADDR)")
	useTLS := fs.Bool("tls", false, "use TLS with the system roots (the ALB listener)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: taskctl [flags] submit|get|watch ...\n\n  submit --type T [--payload P | --payload-file F] [--key K] [--wait]\n  get TASK_ID\n  watch TASK_ID...\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, "taskctl", version.Revision)
		return exitOK
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	creds := insecure.NewCredentials()
	if *useTLS {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintf(stderr, "taskctl: connect to %s: %v\n", *addr, err)
		return exitError
	}
	defer conn.Close()
	c := &cli{client: taskv1.NewTaskServiceClient(conn), json: *asJSON, out: stdout, poll: 500 * time.Millisecond}

	cmd, rest := fs.Arg(0), fs.Args()[1:]
	var code int
	switch cmd {
	case "submit":
		code, err = c.submit(ctx, rest, stderr)
	case "get":
		code, err = c.get(ctx, rest)
	case "watch":
		code, err = c.watch(ctx, rest)
	default:
		fmt.Fprintf(stderr, "taskctl: unknown command %q\n", cmd)
		fs.Usage()
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "taskctl %s: %v\n", cmd, err)
	}
	return code
}

func (c *cli) submit(ctx context.Context, args []string, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typ := fs.String("type", "", "task type: echo, sleep, fail, hash (required)")
	payload := fs.String("payload", "", "payload text (sleep: a duration like 2s; hash: N or N:data)")
	payloadFile := fs.String("payload-file", "", "read the payload from this file")
	key := fs.String("key", "", "idempotency key, 8-128 of [A-Za-z0-9._:-] (default: a random one; reuse it to retry safely)")
	wait := fs.Bool("wait", false, "watch the task until it SUCCEEDED or is DEAD")
	if err := fs.Parse(args); err != nil {
		return exitUsage, nil
	}
	if *typ == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage, nil
	}
	body := []byte(*payload)
	if *payloadFile != "" {
		b, err := os.ReadFile(*payloadFile)
		if err != nil {
			return exitError, fmt.Errorf("read --payload-file: %w", err)
		}
		body = b
	}
	if *key == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		*key = "taskctl-" + hex.EncodeToString(b[:])
	}
	resp, err := c.client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: *key, Type: *typ, Payload: body})
	if err != nil {
		return exitError, fmt.Errorf("submit %s task with key %s: %w", *typ, *key, err)
	}
	c.print(resp, resp.Task, resp.Deduplicated)
	if !*wait {
		return exitOK, nil
	}
	return c.watchIDs(ctx, []string{resp.Task.TaskId}, map[string]taskv1.TaskStatus{resp.Task.TaskId: resp.Task.Status})
}

func (c *cli) get(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return exitUsage, errors.New("name at least one TASK_ID")
	}
	for _, id := range args {
		resp, err := c.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: id})
		if err != nil {
			return exitError, fmt.Errorf("get %s: %w", id, err)
		}
		c.print(resp, resp.Task, false)
	}
	return exitOK, nil
}

func (c *cli) watch(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return exitUsage, errors.New("name at least one TASK_ID")
	}
	return c.watchIDs(ctx, args, map[string]taskv1.TaskStatus{})
}

// watchIDs polls the tasks and prints each status change until every task
// is SUCCEEDED or DEAD.
func (c *cli) watchIDs(ctx context.Context, ids []string, last map[string]taskv1.TaskStatus) (int, error) {
	pending := append([]string(nil), ids...)
	dead := false
	for {
		var still []string
		for _, id := range pending {
			resp, err := c.client.GetTask(ctx, &taskv1.GetTaskRequest{TaskId: id})
			if err != nil {
				return exitError, fmt.Errorf("watch %s: %w", id, err)
			}
			t := resp.Task
			if prev, ok := last[id]; !ok || prev != t.Status {
				c.print(resp, t, false)
				last[id] = t.Status
			}
			switch {
			case !t.Final:
				still = append(still, id)
			case t.Status == taskv1.TaskStatus_TASK_STATUS_DEAD:
				dead = true
			}
		}
		pending = still
		if len(pending) == 0 {
			if dead {
				return exitDead, nil
			}
			return exitOK, nil
		}
		select {
		case <-ctx.Done():
			return exitError, fmt.Errorf("stopped watching with %d tasks unfinished: %s", len(pending), strings.Join(pending, " "))
		case <-time.After(c.poll):
		}
	}
}

// print writes one line per response: with --json the response message
// (SubmitTaskResponse or GetTaskResponse, both with a "task" field) as JSON,
// else a summary.
func (c *cli) print(resp proto.Message, t *taskv1.Task, deduplicated bool) {
	if c.json {
		b, err := protojson.Marshal(resp)
		if err != nil {
			fmt.Fprintf(c.out, "{\"error\":%q}\n", err.Error())
			return
		}
		// protojson may add spaces at random; scripts want one compact line.
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil {
			b = buf.Bytes()
		}
		fmt.Fprintln(c.out, string(b))
		return
	}
	line := fmt.Sprintf("%s  %-6s %-9s attempts=%d", t.TaskId, t.Type, strings.TrimPrefix(t.Status.String(), "TASK_STATUS_"), t.Attempts)
	if len(t.Result) > 0 {
		line += fmt.Sprintf(" result=%q", clip(string(t.Result)))
	}
	if t.Error != "" {
		line += fmt.Sprintf(" error=%q", clip(t.Error))
	}
	if t.Status == taskv1.TaskStatus_TASK_STATUS_FAILED {
		line += fmt.Sprintf(" (failed runs %d; will run again)", t.FailedRuns)
	}
	if deduplicated {
		line += " (deduplicated: this key was already submitted)"
	}
	fmt.Fprintln(c.out, line)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}
