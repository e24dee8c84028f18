// Package taskservice implements the gRPC TaskService over the task store
// and the tasks queue: idempotent SubmitTask and GetTask.
package taskservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/smithy-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// MaxPayload bounds a task's payload.
const MaxPayload = 64 << 10

// EnqueueClaim is how long a submit holds a task's enqueue claim, and
// bounds its store-then-enqueue sequence: until the claim lapses, a
// repeated submit of the key waits for the holder to queue the task; after
// it, a repeat or the recovery of stranded tasks (dlq service) takes the
// claim and sends. The holder's calls end before its claim does, so two
// claimants never both send.
const EnqueueClaim = 3 * time.Second

// SubmitBound bounds one SubmitTask call: long enough for a repeat to
// outwait a claim taken just before it.
const SubmitBound = 2 * EnqueueClaim

var (
	keyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,128}$`)
	idPattern  = regexp.MustCompile(`^t-[0-9a-f]{32}$`)
)

// Server is the TaskService.
type Server struct {
	taskv1.UnimplementedTaskServiceServer
	store *taskstore.Store
	queue *queue.Queue
	types tasktype.Registry
	log   *slog.Logger
}

// New returns a TaskService that stores tasks in store and enqueues them on q.
func New(store *taskstore.Store, q *queue.Queue, types tasktype.Registry, log *slog.Logger) *Server {
	return &Server{store: store, queue: q, types: types, log: log}
}

const retrySameKey = "retry with the same idempotency key"

// SubmitTask stores the task (conditional PutItem on the idempotency key,
// holding the enqueue claim), sends its message and marks it QUEUED. The
// same key with the same request returns the existing task; if it is still
// ACCEPTED, this call waits for the claimant to queue it, and sends it
// itself only once the claim was released or lapsed (the first call failed,
// its client went away, or its api died), so concurrent and retried submits
// send one message.
// The same key with a different request is ALREADY_EXISTS; the key of a
// DEAD task is FAILED_PRECONDITION.
func (s *Server) SubmitTask(ctx context.Context, req *taskv1.SubmitTaskRequest) (*taskv1.SubmitTaskResponse, error) {
	if err := s.validate(req); err != nil {
		return nil, err
	}
	// Until the task is stored the call follows its client: work whose
	// client has gone stops. From the send on it does not: a send cut off
	// half way may have happened, and only a finished one says whether
	// the claim can be given up. Both end before the claim does.
	ctx, cancel := context.WithTimeout(ctx, SubmitBound)
	defer cancel()
	claimEnds := time.Now().Add(EnqueueClaim)
	createCtx, cancelCreate := context.WithDeadline(ctx, claimEnds)
	defer cancelCreate()
	log := s.log.With("idempotency_key", req.IdempotencyKey, "task_id", taskstore.TaskID(req.IdempotencyKey))

	t, created, err := s.store.Create(createCtx, req.IdempotencyKey, req.Type, req.Payload, EnqueueClaim)
	if err != nil {
		s.releaseClaim(log, t)
		return nil, backendStatus(log, err, "could not store the task", retrySameKey)
	}
	if !created {
		if t.Fingerprint != taskstore.Fingerprint(req.Type, req.Payload) {
			return nil, status.Errorf(codes.AlreadyExists,
				"idempotency key %q already belongs to task %s, submitted with a different request (type %q, %d-byte payload); use a new key for a new task",
				req.IdempotencyKey, t.ID, t.Type, len(t.Payload))
		}
		if t.Status == taskstore.Dead {
			return nil, status.Errorf(codes.FailedPrecondition,
				"task %s for idempotency key %q is DEAD after %d failed runs (last error: %s); it will not run again under this key: to retry the work, submit it with a new idempotency key",
				t.ID, req.IdempotencyKey, t.Failures, clip(t.Error))
		}
		if t.Status != taskstore.Accepted {
			return &taskv1.SubmitTaskResponse{Task: toProto(t), Deduplicated: true}, nil
		}
		var claimed taskstore.Task
		var done *taskstore.Task
		claimed, done, claimEnds, err = s.awaitClaim(ctx, t)
		if err != nil {
			return nil, backendStatus(log, err, "could not claim the stored task for enqueueing", retrySameKey)
		}
		if done != nil {
			return &taskv1.SubmitTaskResponse{Task: toProto(*done), Deduplicated: true}, nil
		}
		log.Warn("submit: enqueueing a task an earlier call stored but did not queue")
		t = claimed
	}
	sendCtx, cancelSend := context.WithDeadline(context.WithoutCancel(ctx), claimEnds)
	defer cancelSend()
	if err := s.queue.Send(sendCtx, queue.Body{TaskID: t.ID, Type: t.Type, Payload: t.Payload}); err != nil {
		if answered(err) {
			// SQS answered with an error: nothing was sent.
			s.releaseClaim(log, t)
		}
		return nil, backendStatus(log, err, "task "+t.ID+" is stored but not queued", retrySameKey+" (or wait: it is queued by recovery)")
	}
	if err := s.store.MarkQueued(sendCtx, t.ID); err != nil {
		// The message is out, so the task will run; the status only
		// lags, and a worker moves it on from ACCEPTED.
		log.Warn("submit: task enqueued but not marked QUEUED", "err", err)
	} else {
		t.Status = taskstore.Queued
	}
	return &taskv1.SubmitTaskResponse{Task: toProto(t), Deduplicated: !created}, nil
}

// awaitClaim takes the enqueue claim of an ACCEPTED task (then claimed is
// the task and done nil), or waits while another call holds it until that
// call queued the task (done is the task as stored) or gave the claim up.
// The failed claim attempts read the item, so waiting needs no GetItem.
// When ctx ends first, done is the task as last seen: stored, and queued
// by its claimant or by recovery.
func (s *Server) awaitClaim(ctx context.Context, t taskstore.Task) (claimed taskstore.Task, done *taskstore.Task, claimEnds time.Time, err error) {
	backoff := 10 * time.Millisecond
	for {
		start := time.Now()
		claimed, err := s.store.ClaimEnqueue(ctx, t.ID, EnqueueClaim)
		var te *taskstore.TransitionError
		switch {
		case err == nil:
			return claimed, nil, start.Add(EnqueueClaim), nil
		case !errors.As(err, &te):
			if ctx.Err() != nil {
				return taskstore.Task{}, &t, time.Time{}, nil
			}
			return taskstore.Task{}, nil, time.Time{}, err
		case te.Task.Status != taskstore.Accepted:
			return taskstore.Task{}, &te.Task, time.Time{}, nil
		}
		t = te.Task
		select {
		case <-ctx.Done():
			return taskstore.Task{}, &t, time.Time{}, nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// answered reports whether err is an error answer from the service, as
// opposed to a call whose fate is unknown (cut off, timed out, dropped).
func answered(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
}

// releaseClaim gives up this call's enqueue claim after a failure, so the
// client's retry sends at once. It runs detached from the caller, bounded
// by a second: the caller may be gone, which is often why it failed.
func (s *Server) releaseClaim(log *slog.Logger, t taskstore.Task) {
	if t.ID == "" || t.ClaimUntil.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.store.ReleaseClaim(ctx, t.ID, t.ClaimUntil); err != nil {
		log.Warn("submit: could not release the enqueue claim; it lapses by itself", "claim_until", t.ClaimUntil, "err", err)
	}
}

// GetTask reads a task.
func (s *Server) GetTask(ctx context.Context, req *taskv1.GetTaskRequest) (*taskv1.GetTaskResponse, error) {
	if !idPattern.MatchString(req.TaskId) {
		return nil, status.Errorf(codes.InvalidArgument, "task_id %q is not a task id (t- followed by 32 hex digits, as SubmitTask returns)", clip(req.TaskId))
	}
	t, err := s.store.Get(ctx, req.TaskId)
	if errors.Is(err, taskstore.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no task %s", req.TaskId)
	}
	if err != nil {
		return nil, backendStatus(s.log, err, "could not read task "+req.TaskId, "retry", "task_id", req.TaskId)
	}
	return &taskv1.GetTaskResponse{Task: toProto(t)}, nil
}

// validate reports every problem with a request in one InvalidArgument.
func (s *Server) validate(req *taskv1.SubmitTaskRequest) error {
	var problems []string
	if !utf8.ValidString(req.IdempotencyKey) || strings.ContainsRune(req.IdempotencyKey, utf8.RuneError) {
		problems = append(problems, "idempotency_key is not valid UTF-8")
	} else if !keyPattern.MatchString(req.IdempotencyKey) {
		problems = append(problems, fmt.Sprintf("idempotency_key %q must be 8-128 characters of [A-Za-z0-9._:-]", clip(req.IdempotencyKey)))
	}
	typ, err := s.types.Lookup(req.Type)
	if !utf8.ValidString(req.Type) || strings.ContainsRune(req.Type, utf8.RuneError) {
		problems = append(problems, "type is not valid UTF-8")
	} else if err != nil {
		problems = append(problems, "type: "+err.Error())
	}
	if len(req.Payload) > MaxPayload {
		problems = append(problems, fmt.Sprintf("payload is %d bytes, more than the %d-byte limit", len(req.Payload), MaxPayload))
	} else if typ != nil {
		if err := typ.Validate(req.Payload); err != nil {
			problems = append(problems, "payload: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return status.Error(codes.InvalidArgument, "invalid SubmitTask request: "+strings.Join(problems, "; "))
	}
	return nil
}

func clip(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}

func toProto(t taskstore.Task) *taskv1.Task {
	ts := func(tm time.Time) *timestamppb.Timestamp {
		if tm.IsZero() {
			return nil
		}
		return timestamppb.New(tm)
	}
	return &taskv1.Task{
		TaskId:         t.ID,
		IdempotencyKey: t.Key,
		Type:           t.Type,
		Payload:        t.Payload,
		Status:         StatusToProto(t.Status),
		Result:         t.Result,
		Error:          t.Error,
		Attempts:       int32(t.Runs),
		FailedRuns:     int32(t.Failures),
		Final:          t.Status.Terminal(),
		CreatedAt:      ts(t.CreatedAt),
		UpdatedAt:      ts(t.UpdatedAt),
	}
}

// StatusToProto maps a stored status to the API's enum.
func StatusToProto(s taskstore.Status) taskv1.TaskStatus {
	switch s {
	case taskstore.Accepted:
		return taskv1.TaskStatus_TASK_STATUS_ACCEPTED
	case taskstore.Queued:
		return taskv1.TaskStatus_TASK_STATUS_QUEUED
	case taskstore.Running:
		return taskv1.TaskStatus_TASK_STATUS_RUNNING
	case taskstore.Succeeded:
		return taskv1.TaskStatus_TASK_STATUS_SUCCEEDED
	case taskstore.Failed:
		return taskv1.TaskStatus_TASK_STATUS_FAILED
	case taskstore.Dead:
		return taskv1.TaskStatus_TASK_STATUS_DEAD
	}
	return taskv1.TaskStatus_TASK_STATUS_UNSPECIFIED
}
