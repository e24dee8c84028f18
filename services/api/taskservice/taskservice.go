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

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// MaxPayload bounds a task's payload.
const MaxPayload = 64 << 10

// writeTimeout bounds the store-then-enqueue sequence of one submit. It runs
// detached from the caller's context, so a client that gives up half way
// does not strand its task between PutItem and SendMessage.
const writeTimeout = 10 * time.Second

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

// SubmitTask stores the task (conditional PutItem on the idempotency key),
// sends its message and marks it QUEUED. The same key with the same request
// returns the existing task, re-enqueueing it if an earlier call stopped
// between the write and the send; the same key with a different request is
// ALREADY_EXISTS.
func (s *Server) SubmitTask(ctx context.Context, req *taskv1.SubmitTaskRequest) (*taskv1.SubmitTaskResponse, error) {
	if err := s.validate(req); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()

	t, created, err := s.store.Create(ctx, req.IdempotencyKey, req.Type, req.Payload)
	if err != nil {
		s.log.Error("submit: store task", "idempotency_key", req.IdempotencyKey, "err", err)
		return nil, status.Errorf(codes.Unavailable, "could not store the task: %v; retry with the same idempotency key", err)
	}
	if !created {
		if t.Fingerprint != taskstore.Fingerprint(req.Type, req.Payload) {
			return nil, status.Errorf(codes.AlreadyExists,
				"idempotency key %q already belongs to task %s, submitted with a different request (type %q, %d-byte payload); use a new key for a new task",
				req.IdempotencyKey, t.ID, t.Type, len(t.Payload))
		}
		if t.Status != taskstore.Accepted {
			return &taskv1.SubmitTaskResponse{Task: toProto(t), Deduplicated: true}, nil
		}
		// ACCEPTED means an earlier call stored the task but may not have
		// sent its message: send it (again). The worker is idempotent.
		s.log.Warn("submit: re-enqueueing a task stranded in ACCEPTED", "task_id", t.ID, "idempotency_key", t.Key)
	}
	if err := s.queue.Send(ctx, queue.Body{TaskID: t.ID, Type: t.Type, Payload: t.Payload}); err != nil {
		s.log.Error("submit: enqueue task", "task_id", t.ID, "err", err)
		return nil, status.Errorf(codes.Unavailable, "task %s is stored but not queued: %v; retry with the same idempotency key to enqueue it", t.ID, err)
	}
	if err := s.store.MarkQueued(ctx, t.ID); err != nil {
		// The message is out, so the task will run; the status only
		// lags, and a worker moves it on from ACCEPTED.
		s.log.Warn("submit: task enqueued but not marked QUEUED", "task_id", t.ID, "err", err)
	} else {
		t.Status = taskstore.Queued
	}
	return &taskv1.SubmitTaskResponse{Task: toProto(t), Deduplicated: !created}, nil
}

// GetTask reads a task.
func (s *Server) GetTask(ctx context.Context, req *taskv1.GetTaskRequest) (*taskv1.GetTaskResponse, error) {
	if !idPattern.MatchString(req.TaskId) {
		return nil, status.Errorf(codes.InvalidArgument, "task_id %q is not a task id (t- followed by 32 hex digits, as SubmitTask returns)", req.TaskId)
	}
	t, err := s.store.Get(ctx, req.TaskId)
	if errors.Is(err, taskstore.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "no task %s", req.TaskId)
	}
	if err != nil {
		s.log.Error("get task", "task_id", req.TaskId, "err", err)
		return nil, status.Errorf(codes.Unavailable, "could not read task %s: %v; retry", req.TaskId, err)
	}
	return &taskv1.GetTaskResponse{Task: toProto(t)}, nil
}

// validate reports every problem with a request in one InvalidArgument.
func (s *Server) validate(req *taskv1.SubmitTaskRequest) error {
	var problems []string
	if !keyPattern.MatchString(req.IdempotencyKey) {
		problems = append(problems, fmt.Sprintf("idempotency_key %q must be 8-128 characters of [A-Za-z0-9._:-]", clip(req.IdempotencyKey)))
	}
	typ, err := s.types.Lookup(req.Type)
	if err != nil {
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
	ts := func(tm time.Time) string {
		if tm.IsZero() {
			return ""
		}
		return tm.UTC().Format(time.RFC3339Nano)
	}
	return &taskv1.Task{
		TaskId:         t.ID,
		IdempotencyKey: t.Key,
		Type:           t.Type,
		Payload:        t.Payload,
		Status:         StatusToProto(t.Status),
		Result:         t.Result,
		Error:          t.Error,
		Attempts:       int32(t.Attempts),
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
