// Package taskstore keeps tasks in the DynamoDB tasks table.
//
// The table's partition key is "task_id" (S). A task's id is derived from
// its idempotency key, so creating a task is one conditional PutItem and a
// retried submit finds the same item without a read. Every status change is
// a conditional UpdateItem that names the states it may start from, so
// at-least-once delivery cannot move a task backwards, and a repeated
// transition is a no-op.
package taskstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Status is a task's place in its lifecycle:
// ACCEPTED -> QUEUED -> RUNNING -> SUCCEEDED | FAILED -> (after maxReceiveCount) DEAD.
type Status string

// The statuses.
const (
	Accepted  Status = "ACCEPTED"
	Queued    Status = "QUEUED"
	Running   Status = "RUNNING"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
	Dead      Status = "DEAD"
)

// Terminal reports whether no transition leaves s (except FAILED, which is
// retried until the queue gives up).
func (s Status) Terminal() bool { return s == Succeeded || s == Dead }

// KeyAttr is the table's partition key attribute.
const KeyAttr = "task_id"

// Task is one item of the tasks table.
type Task struct {
	ID          string
	Key         string // client idempotency key
	Type        string
	Payload     []byte
	Fingerprint string // of (Type, Payload): tells a retry from a different request with the same key
	Status      Status
	Result      []byte
	Error       string
	Attempts    int // queue deliveries so far
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ErrNotFound means no task has the id.
var ErrNotFound = errors.New("task not found")

// TransitionError means the task is in a state the transition does not start
// from: for example a worker trying to run a task that already SUCCEEDED.
type TransitionError struct {
	TaskID string
	Status Status // the task's current status
	To     Status
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("task %s is %s, so it cannot become %s", e.TaskID, e.Status, e.To)
}

// Store reads and writes tasks.
type Store struct {
	db    *dynamodb.Client
	table string
	now   func() time.Time
}

// New returns a store over the named table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, now: time.Now}
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// TaskID derives a task's id from its idempotency key.
func TaskID(key string) string {
	sum := sha256.Sum256([]byte("conveyor/task/v1\x00" + key))
	return "t-" + hex.EncodeToString(sum[:16])
}

// Fingerprint identifies a request's content.
func Fingerprint(typ string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil))
}

// Create writes a new ACCEPTED task for (key, type, payload) unless one
// exists for the key. It returns the stored task and whether this call
// created it; an existing task comes back from the failed condition check
// (ReturnValuesOnConditionCheckFailure), so there is no extra read. The
// caller compares fingerprints.
func (s *Store) Create(ctx context.Context, key, typ string, payload []byte) (Task, bool, error) {
	now := s.now().UTC()
	t := Task{
		ID: TaskID(key), Key: key, Type: typ, Payload: payload,
		Fingerprint: Fingerprint(typ, payload), Status: Accepted,
		CreatedAt: now, UpdatedAt: now,
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                encode(t),
		ConditionExpression:                 aws.String("attribute_not_exists(" + KeyAttr + ")"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, derr := decode(ccf.Item)
		if derr != nil {
			return Task{}, false, fmt.Errorf("task %s exists in table %s but cannot be read: %w", t.ID, s.table, derr)
		}
		return old, false, nil
	}
	if err != nil {
		return Task{}, false, fmt.Errorf("put task %s in table %s: %w", t.ID, s.table, err)
	}
	return t, true, nil
}

// Get reads a task with a consistent read.
func (s *Store) Get(ctx context.Context, id string) (Task, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &s.table,
		Key:            map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Task{}, fmt.Errorf("get task %s from table %s: %w", id, s.table, err)
	}
	if len(out.Item) == 0 {
		return Task{}, fmt.Errorf("task %s in table %s: %w", id, s.table, ErrNotFound)
	}
	t, err := decode(out.Item)
	if err != nil {
		return Task{}, fmt.Errorf("task %s in table %s: %w", id, s.table, err)
	}
	return t, nil
}

// MarkQueued moves ACCEPTED -> QUEUED once the task's message is sent. A
// task that is already further along is left alone and nil returned.
func (s *Store) MarkQueued(ctx context.Context, id string) error {
	_, err := s.transition(ctx, id, Queued, []Status{Accepted}, nil, false)
	var te *TransitionError
	if errors.As(err, &te) && te.Status != Accepted {
		return nil
	}
	return err
}

// MarkRunning records that a worker started the task on its attempt-th
// delivery. It starts from any non-terminal status: ACCEPTED (the api
// crashed between SendMessage and MarkQueued), RUNNING (redelivery after a
// worker died) or FAILED (a retry). On a SUCCEEDED or DEAD task it returns a
// *TransitionError, and the caller drops the duplicate message.
func (s *Store) MarkRunning(ctx context.Context, id string, attempt int) error {
	_, err := s.transition(ctx, id, Running, []Status{Accepted, Queued, Running, Failed},
		map[string]types.AttributeValue{"attempts": num(attempt)}, false)
	return err
}

// MarkSucceeded records the result. It starts from any non-terminal status,
// so a slow worker's success still counts after another delivery failed;
// repeating it is a no-op.
func (s *Store) MarkSucceeded(ctx context.Context, id string, result []byte) error {
	_, err := s.transition(ctx, id, Succeeded, []Status{Accepted, Queued, Running, Failed},
		map[string]types.AttributeValue{"result": bin(result)}, false)
	var te *TransitionError
	if errors.As(err, &te) && te.Status == Succeeded {
		return nil
	}
	return err
}

// MarkFailed records a failed attempt; the queue redelivers the message
// until maxReceiveCount, then the dlq service marks the task DEAD. It
// starts only from RUNNING, so it never overwrites a success.
func (s *Store) MarkFailed(ctx context.Context, id, msg string, attempt int) error {
	_, err := s.transition(ctx, id, Failed, []Status{Running},
		map[string]types.AttributeValue{"error": str(msg), "attempts": num(attempt)}, false)
	return err
}

// MarkDead records that the queue gave up on the task after receiveCount
// deliveries. The last error the worker recorded is kept; a task without one
// gets fallbackErr. A SUCCEEDED task is not touched (*TransitionError).
// It returns the task as stored.
func (s *Store) MarkDead(ctx context.Context, id string, receiveCount int, fallbackErr string) (Task, error) {
	return s.transition(ctx, id, Dead, []Status{Accepted, Queued, Running, Failed, Dead},
		map[string]types.AttributeValue{"attempts": num(receiveCount), "error": str(fallbackErr)}, true)
}

// transition is one conditional UpdateItem: set status to `to` (plus the
// given attributes) if the task exists and its status is one of from.
// "error" in set is written only when the item has none (if_not_exists) for
// DEAD, and always otherwise.
func (s *Store) transition(ctx context.Context, id string, to Status, from []Status, set map[string]types.AttributeValue, returnNew bool) (Task, error) {
	names := map[string]string{"#status": "status", "#updated_at": "updated_at", "#id": KeyAttr}
	values := map[string]types.AttributeValue{":to": str(string(to)), ":now": str(s.now().UTC().Format(time.RFC3339Nano))}
	expr := []string{"#status = :to", "#updated_at = :now"}
	for k, v := range set {
		names["#"+k] = k
		values[":"+k] = v
		if k == "error" && to == Dead {
			expr = append(expr, "#error = if_not_exists(#error, :error)")
			continue
		}
		expr = append(expr, "#"+k+" = :"+k)
	}
	in := make([]string, len(from))
	for i, f := range from {
		in[i] = ":from" + strconv.Itoa(i)
		values[in[i]] = str(string(f))
	}
	rv := types.ReturnValueNone
	if returnNew {
		rv = types.ReturnValueAllNew
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 map[string]types.AttributeValue{KeyAttr: str(id)},
		UpdateExpression:                    aws.String("SET " + strings.Join(expr, ", ")),
		ConditionExpression:                 aws.String("attribute_exists(#id) AND #status IN (" + strings.Join(in, ", ") + ")"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        rv,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return Task{}, fmt.Errorf("mark task %s %s in table %s: %w", id, to, s.table, ErrNotFound)
		}
		old, derr := decode(ccf.Item)
		if derr != nil {
			return Task{}, fmt.Errorf("mark task %s %s in table %s: %w", id, to, s.table, derr)
		}
		return old, &TransitionError{TaskID: id, Status: old.Status, To: to}
	}
	if err != nil {
		return Task{}, fmt.Errorf("mark task %s %s in table %s: %w", id, to, s.table, err)
	}
	if !returnNew {
		return Task{}, nil
	}
	return decode(out.Attributes)
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }
func bin(b []byte) types.AttributeValue {
	if b == nil {
		b = []byte{}
	}
	return &types.AttributeValueMemberB{Value: b}
}

func encode(t Task) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		KeyAttr:           str(t.ID),
		"idempotency_key": str(t.Key),
		"type":            str(t.Type),
		"fingerprint":     str(t.Fingerprint),
		"status":          str(string(t.Status)),
		"attempts":        num(t.Attempts),
		"created_at":      str(t.CreatedAt.Format(time.RFC3339Nano)),
		"updated_at":      str(t.UpdatedAt.Format(time.RFC3339Nano)),
	}
	// DynamoDB rejects empty binary values in some implementations; an
	// absent payload reads back as empty.
	if len(t.Payload) > 0 {
		item["payload"] = bin(t.Payload)
	}
	return item
}

func decode(item map[string]types.AttributeValue) (Task, error) {
	var t Task
	var errs []error
	s := func(k string) string {
		if v, ok := item[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	b := func(k string) []byte {
		if v, ok := item[k].(*types.AttributeValueMemberB); ok {
			return v.Value
		}
		return nil
	}
	ts := func(k string) time.Time {
		v := s(k)
		if v == "" {
			return time.Time{}
		}
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("attribute %s=%q is not an RFC 3339 time", k, v))
		}
		return tm
	}
	t.ID = s(KeyAttr)
	t.Key = s("idempotency_key")
	t.Type = s("type")
	t.Payload = b("payload")
	t.Fingerprint = s("fingerprint")
	t.Status = Status(s("status"))
	t.Result = b("result")
	t.Error = s("error")
	if v, ok := item["attempts"].(*types.AttributeValueMemberN); ok {
		n, err := strconv.Atoi(v.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("attribute attempts=%q is not an integer", v.Value))
		}
		t.Attempts = n
	}
	t.CreatedAt = ts("created_at")
	t.UpdatedAt = ts("updated_at")
	if t.ID == "" {
		errs = append(errs, errors.New("item has no task_id"))
	}
	if len(errs) > 0 {
		return Task{}, fmt.Errorf("decode task item: %w", errors.Join(errs...))
	}
	return t, nil
}
