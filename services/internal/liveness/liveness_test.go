package liveness_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/services/internal/liveness"
)

func TestCheckFailsOnceTheFileIsOlderThanMaxAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alive")
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	if err := liveness.Check(path, time.Minute, t0); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Check before the first touch = %v, want an error saying the file does not exist", err)
	}
	if err := liveness.Touch(path, t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		after   time.Duration
		healthy bool
	}{
		{0, true},
		{time.Minute, true}, // exactly max-age is still fresh
		{time.Minute + time.Second, false},
		{time.Hour, false},
	} {
		err := liveness.Check(path, time.Minute, t0.Add(c.after))
		if (err == nil) != c.healthy {
			t.Errorf("Check %s after the touch with max-age 1m = %v, want healthy=%t", c.after, err, c.healthy)
		}
	}
	// A later touch makes it fresh again.
	if err := liveness.Touch(path, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := liveness.Check(path, time.Minute, t0.Add(time.Hour+time.Second)); err != nil {
		t.Errorf("Check after a fresh touch: %v", err)
	}
}

func TestHealthExitCodes(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh")
	stale := filepath.Join(dir, "stale")
	if err := liveness.Touch(fresh, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := liveness.Touch(stale, time.Now().Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-file", fresh, "-max-age", "90s"}, 0, ""},
		{[]string{"-file", stale, "-max-age", "90s"}, 1, "the work loop is stuck"},
		{[]string{"-file", filepath.Join(dir, "missing")}, 1, "does not exist"},
		{[]string{"-max-age", "90s"}, 2, "-file is required"},
		{[]string{"-file", fresh, "-max-age", "soon"}, 2, "invalid value"},
	} {
		var stderr bytes.Buffer
		if code := liveness.Health(c.args, &stderr); code != c.code || !strings.Contains(stderr.String(), c.says) {
			t.Errorf("health %v = %d (%q), want %d saying %q", c.args, code, stderr.String(), c.code, c.says)
		}
	}
}

// Every completed SQS call refreshes the file, a failed one too; a client
// without the option, or with an empty path, writes nothing.
func TestSQSCallsKeepTheFileFresh(t *testing.T) {
	moto := motoserver.Start(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alive")
	plain := sqs.NewFromConfig(cfg, liveness.SQSOption(""))
	if _, err := plain.ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("a client without a liveness path wrote the file")
	}

	c := sqs.NewFromConfig(cfg, liveness.SQSOption(path))
	if _, err := c.ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	if err := liveness.Check(path, time.Minute, time.Now()); err != nil {
		t.Fatalf("after a successful call: %v", err)
	}
	// Age the file, then fail a call: the loop is alive, so it is fresh again.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("no-such-queue-" + t.Name())})
	if err == nil {
		t.Fatal("GetQueueUrl of a missing queue succeeded")
	}
	if err := liveness.Check(path, time.Minute, time.Now()); err != nil {
		t.Errorf("after a failed call: %v", err)
	}
}
