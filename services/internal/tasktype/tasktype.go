// Package tasktype is the registry of task types the worker knows how to run
// and the api accepts. Each type validates its payload at submit time, so a
// bad payload is rejected with InvalidArgument instead of failing in the
// worker later.
package tasktype

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is one kind of task.
type Type interface {
	// Validate reports what is wrong with a payload, or nil.
	Validate(payload []byte) error
	// Run executes the task. It returns early with ctx.Err() when ctx ends.
	// A task may run more than once (at-least-once delivery, a run cut off
	// by a deploy), never twice at the same time: side effects keyed on
	// in.TaskID are idempotent, and in.Attempt tells a retry from the first
	// run.
	Run(ctx context.Context, in Input) ([]byte, error)
}

// Input is what one run of a task gets.
type Input struct {
	TaskID  string // stable across runs: the key for idempotent side effects
	Attempt int    // 1 for the first run, counted in the task's row
	Payload []byte
}

// Registry maps type names to types.
type Registry map[string]Type

// MaxSleep bounds the sleep task: it fits production's worker stop budget
// (110 s), so a deploy lets a running sleep finish (docs/architecture.md,
// "Long tasks and deploys").
const MaxSleep = 100 * time.Second

// MaxHashRounds bounds the hash task's CPU use.
const MaxHashRounds = 10_000_000

// Builtin returns the built-in types: echo, sleep, fail and hash.
func Builtin() Registry {
	return Registry{
		"echo":  echo{},
		"sleep": sleep{},
		"fail":  fail{},
		"hash":  hash{},
	}
}

// Names returns the registered type names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup finds a type, with an error that lists the known ones.
func (r Registry) Lookup(name string) (Type, error) {
	t, ok := r[name]
	if !ok {
		return nil, fmt.Errorf("unknown task type %q: known types are %s", name, strings.Join(r.Names(), ", "))
	}
	return t, nil
}

// echo returns its payload.
type echo struct{}

func (echo) Validate([]byte) error { return nil }
func (echo) Run(_ context.Context, in Input) ([]byte, error) {
	return in.Payload, nil
}

// sleep waits for the duration in its payload, in Go syntax ("1.5s", "2m").
type sleep struct{}

// ParseSleep reads a sleep payload.
func ParseSleep(p []byte) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(string(p)))
	if err != nil {
		return 0, fmt.Errorf("sleep payload %q is not a duration such as \"2s\" or \"1m30s\"", truncate(p))
	}
	if d < 0 || d > MaxSleep {
		return 0, fmt.Errorf("sleep payload %s is outside 0..%s", d, MaxSleep)
	}
	return d, nil
}

func (sleep) Validate(p []byte) error { _, err := ParseSleep(p); return err }
func (sleep) Run(ctx context.Context, in Input) ([]byte, error) {
	d, err := ParseSleep(in.Payload)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return []byte("slept " + d.String()), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sleep %s interrupted: %w", d, ctx.Err())
	}
}

// ErrFail is what the fail type always returns.
var ErrFail = errors.New("fail task: failing on purpose")

// fail always errors; its payload, if any, is added to the message.
type fail struct{}

func (fail) Validate([]byte) error { return nil }
func (fail) Run(_ context.Context, in Input) ([]byte, error) {
	if len(in.Payload) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrFail, truncate(in.Payload))
	}
	return nil, ErrFail
}

// hash applies sha256 N times. Its payload is "N" or "N:data"; the first
// round hashes data, each later round the previous digest. The result is
// the hex digest.
type hash struct{}

// ParseHash reads a hash payload.
func ParseHash(p []byte) (rounds int, data []byte, err error) {
	head, rest, _ := strings.Cut(string(p), ":")
	n, err := strconv.Atoi(head)
	if err != nil || n < 1 || n > MaxHashRounds {
		return 0, nil, fmt.Errorf("hash payload %q must be \"N\" or \"N:data\" with N rounds in 1..%d", truncate(p), MaxHashRounds)
	}
	return n, []byte(rest), nil
}

func (hash) Validate(p []byte) error { _, _, err := ParseHash(p); return err }
func (hash) Run(ctx context.Context, in Input) ([]byte, error) {
	n, data, err := ParseHash(in.Payload)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	for i := 1; i < n; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("hash interrupted after %d of %d rounds: %w", i, n, ctx.Err())
		}
		sum = sha256.Sum256(sum[:])
	}
	return []byte(hex.EncodeToString(sum[:])), nil
}

func truncate(p []byte) string {
	if len(p) > 64 {
		return string(p[:64]) + "..."
	}
	return string(p)
}
