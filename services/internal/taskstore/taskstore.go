// Package taskstore keeps tasks in the DynamoDB tasks table.
//
// The table's partition key is "task_id" (S). A task's id is derived from
// its idempotency key, so creating a task is one conditional PutItem and a
// retried submit finds the same item without a read. Every change is a
// conditional UpdateItem that names the states it may start from, so
// at-least-once delivery cannot move a task backwards.
//
// Two claims keep work single:
//   - the enqueue claim (claim_until) says who may send an ACCEPTED task's
//     message: the submit that created it, or, once the claim lapsed, a
//     retried submit or the recovery of stranded tasks;
//   - the run lease (owner, lease_until) says which worker runs the task.
//     Start takes it only when no live lease exists; the heartbeat extends
//     it; Succeed, Fail and Release name the owner, so a run whose lease was
//     taken over cannot record anything (fencing).
//
// While a task is ACCEPTED its item carries "pending", the hash key of the
// sparse index PendingIndex: only unqueued tasks are in it, so recovery
// queries a handful of items instead of scanning the table.
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
// ACCEPTED -> QUEUED -> RUNNING -> SUCCEEDED | FAILED -> RUNNING ... -> DEAD.
type Status string

// The statuses.
const (
	Accepted  Status = "ACCEPTED"
	Queued    Status = "QUEUED"
	Running   Status = "RUNNING"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED" // a run failed; the task will run again
	Dead      Status = "DEAD"   // its recorded failed runs reached the limit, or it can never run
)

// Terminal reports whether no transition leaves s: the task is finished.
func (s Status) Terminal() bool { return s == Succeeded || s == Dead }

// Table layout.
const (
	KeyAttr      = "task_id"     // partition key
	PendingIndex = "pending"     // sparse GSI: hash PendingAttr, range ClaimAttr
	PendingAttr  = "pending"     // "1" while ACCEPTED, absent otherwise
	ClaimAttr    = "claim_until" // N, unix ms: the enqueue claim of an ACCEPTED task
	pendingValue = "1"
)

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
	Runs        int       // runs started; the latest run's attempt number
	Failures    int       // runs that returned an error
	Redrives    int       // times the dlq service put the task back on the queue
	Owner       string    // the run holding the lease, while RUNNING
	LeaseUntil  time.Time // the lease's expiry, while RUNNING
	ClaimUntil  time.Time // the enqueue claim's expiry, while ACCEPTED
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LeaseLive reports whether a run holds the task at now.
func (t Task) LeaseLive(now time.Time) bool {
	return t.Status == Running && now.Before(t.LeaseUntil)
}

// ErrNotFound means no task has the id.
var ErrNotFound = errors.New("task not found")

// TransitionError means the task is not in a state the change starts from:
// a worker trying to run a task that already SUCCEEDED, a run whose lease
// another run took, an enqueue claim someone else holds. Task is the item
// as stored.
type TransitionError struct {
	Task Task
	To   string // what the change tried to do
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("task %s is %s, so it cannot %s", e.Task.ID, e.Task.Status, e.To)
	if e.Task.Status == Running {
		msg += fmt.Sprintf(" (run %d held by %s until %s)", e.Task.Runs, e.Task.Owner, e.Task.LeaseUntil.UTC().Format(time.RFC3339Nano))
	}
	return msg
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
// exists for the key, with the enqueue claim held for claimFor. It returns
// the stored task and whether this call created it; an existing task comes
// back from the failed condition check (ReturnValuesOnConditionCheckFailure),
// so there is no extra read. The caller compares fingerprints.
func (s *Store) Create(ctx context.Context, key, typ string, payload []byte, claimFor time.Duration) (Task, bool, error) {
	now := s.now().UTC()
	t := Task{
		ID: TaskID(key), Key: key, Type: typ, Payload: payload,
		Fingerprint: Fingerprint(typ, payload), Status: Accepted,
		ClaimUntil: now.Add(claimFor), CreatedAt: now, UpdatedAt: now,
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
		// The item it tried to write: the call may have happened, and the
		// caller may release the claim it would hold (ReleaseClaim).
		return t, false, fmt.Errorf("put task %s in table %s: %w", t.ID, s.table, err)
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

// ClaimEnqueue takes the enqueue claim of an ACCEPTED task whose claim has
// lapsed, for claimFor: the caller then sends its message. Anyone else
// (the creator still at work, another retry, another recoverer) gets a
// *TransitionError with the task as stored.
func (s *Store) ClaimEnqueue(ctx context.Context, id string, claimFor time.Duration) (Task, error) {
	now := s.now()
	return s.update(ctx, id, "take the enqueue claim", update{
		set:  map[string]types.AttributeValue{ClaimAttr: ms(now.Add(claimFor))},
		cond: "#status = :accepted AND (attribute_not_exists(#claim_until) OR #claim_until < :now_ms)",
		vals: map[string]types.AttributeValue{":accepted": str(string(Accepted)), ":now_ms": ms(now)},
	}, true)
}

// ReleaseClaim gives up an enqueue claim that expires at until (the
// ClaimUntil of the task Create or ClaimEnqueue returned) without sending,
// so the next submit of the key, or recovery, sends at once instead of
// waiting for the claim to lapse. A claim already taken over, or a task
// already queued, is left alone.
func (s *Store) ReleaseClaim(ctx context.Context, id string, until time.Time) error {
	_, err := s.update(ctx, id, "release the enqueue claim", update{
		set:  map[string]types.AttributeValue{ClaimAttr: num(0)},
		cond: "#status = :accepted AND #claim_until = :mine",
		vals: map[string]types.AttributeValue{":accepted": str(string(Accepted)), ":mine": ms(until)},
	}, false)
	var te *TransitionError
	if errors.As(err, &te) || errors.Is(err, ErrNotFound) {
		return nil // not ours any more, or never written
	}
	return err
}

// MarkQueued moves ACCEPTED -> QUEUED once the task's message is sent and
// takes it out of the pending index. A task that is already further along
// is left alone and nil returned.
func (s *Store) MarkQueued(ctx context.Context, id string) error {
	_, err := s.update(ctx, id, "become QUEUED", update{
		set:    map[string]types.AttributeValue{"status": str(string(Queued))},
		remove: []string{PendingAttr, ClaimAttr},
		cond:   "#status = :accepted",
		vals:   map[string]types.AttributeValue{":accepted": str(string(Accepted))},
	}, false)
	var te *TransitionError
	if errors.As(err, &te) && te.Task.Status != Accepted {
		return nil
	}
	return err
}

// Start begins a run: it takes the lease for owner until now+lease and
// counts the run. It starts from ACCEPTED (the api stopped between
// SendMessage and MarkQueued), QUEUED, FAILED with fewer than maxFailures
// recorded failures, or RUNNING whose lease has lapsed (the last owner
// died). Anything else is a *TransitionError with the task as stored: a
// live lease, a finished task, or a FAILED task out of retries.
func (s *Store) Start(ctx context.Context, id, owner string, lease time.Duration, maxFailures int) (Task, error) {
	now := s.now()
	return s.update(ctx, id, "start a run", update{
		set: map[string]types.AttributeValue{
			"status": str(string(Running)), "owner": str(owner), "lease_until": ms(now.Add(lease)),
		},
		add:    map[string]types.AttributeValue{"runs": num(1)},
		remove: []string{PendingAttr, ClaimAttr},
		cond: "#failures < :max_failures AND (#status IN (:accepted, :queued, :failed) OR " +
			"(#status = :running AND (attribute_not_exists(#lease_until) OR #lease_until < :now_ms)))",
		vals: map[string]types.AttributeValue{
			":max_failures": num(maxFailures), ":accepted": str(string(Accepted)), ":queued": str(string(Queued)),
			":failed": str(string(Failed)), ":running": str(string(Running)), ":now_ms": ms(now),
		},
		names: []string{"failures"},
	}, true)
}

// Renew extends owner's lease to now+lease. A *TransitionError means the
// run no longer holds the task: it must stop and record nothing.
func (s *Store) Renew(ctx context.Context, id, owner string, lease time.Duration) error {
	_, err := s.update(ctx, id, "renew the lease of "+owner, update{
		set:  map[string]types.AttributeValue{"lease_until": ms(s.now().Add(lease))},
		cond: ownerCond, vals: ownerVals(owner),
	}, false)
	return err
}

// Succeed records owner's run's result. A *TransitionError means another
// run took the task or it already finished; nothing was written.
func (s *Store) Succeed(ctx context.Context, id, owner string, result []byte) error {
	_, err := s.update(ctx, id, "record a success for "+owner, update{
		set:    map[string]types.AttributeValue{"status": str(string(Succeeded)), "result": bin(result)},
		remove: []string{"owner", "lease_until"},
		cond:   ownerCond, vals: ownerVals(owner),
	}, false)
	return err
}

// Fail records that owner's run failed with msg and returns the task as
// stored, with its failure count.
func (s *Store) Fail(ctx context.Context, id, owner, msg string) (Task, error) {
	return s.update(ctx, id, "record a failure for "+owner, update{
		set:    map[string]types.AttributeValue{"status": str(string(Failed)), "error": str(msg)},
		add:    map[string]types.AttributeValue{"failures": num(1)},
		remove: []string{"owner", "lease_until"},
		cond:   ownerCond, vals: ownerVals(owner),
	}, true)
}

// Release gives owner's lease back without an outcome (the run was
// interrupted by shutdown): the task is QUEUED again.
func (s *Store) Release(ctx context.Context, id, owner string) error {
	_, err := s.update(ctx, id, "release the lease of "+owner, update{
		set:    map[string]types.AttributeValue{"status": str(string(Queued))},
		remove: []string{"owner", "lease_until"},
		cond:   ownerCond, vals: ownerVals(owner),
	}, false)
	return err
}

// MarkDead buries a FAILED task whose recorded failures reached
// maxFailures, keeping its last error. It returns the task as stored; on
// any other task it is a *TransitionError, and repeating it is a no-op.
func (s *Store) MarkDead(ctx context.Context, id string, maxFailures int) (Task, error) {
	t, err := s.update(ctx, id, "become DEAD", update{
		set:   map[string]types.AttributeValue{"status": str(string(Dead))},
		cond:  "#status = :failed AND #failures >= :max_failures",
		vals:  map[string]types.AttributeValue{":failed": str(string(Failed)), ":max_failures": num(maxFailures)},
		names: []string{"failures"},
	}, true)
	var te *TransitionError
	if errors.As(err, &te) && te.Task.Status == Dead {
		return te.Task, nil
	}
	return t, err
}

// NoteRedrive counts one more re-drive of a task that is not finished, has
// fewer than maxFailures failures and fewer than maxRedrives re-drives, and
// returns it as stored; the dlq service then puts its message back on the
// queue. Anything else is a *TransitionError with the task as stored.
func (s *Store) NoteRedrive(ctx context.Context, id string, maxFailures, maxRedrives int) (Task, error) {
	return s.update(ctx, id, "be re-driven", update{
		add:  map[string]types.AttributeValue{"redrives": num(1)},
		cond: "#status IN (:accepted, :queued, :running, :failed) AND #failures < :max_failures AND #redrives < :max_redrives",
		vals: map[string]types.AttributeValue{
			":accepted": str(string(Accepted)), ":queued": str(string(Queued)), ":running": str(string(Running)),
			":failed": str(string(Failed)), ":max_failures": num(maxFailures), ":max_redrives": num(maxRedrives),
		},
		names: []string{"failures"},
	}, true)
}

// MarkUnrunnable buries a task that was re-driven maxRedrives times without
// ever finishing a run (its payload crashes or outlasts every worker), with
// reason as its error. A task that is running, finished, or that still has
// re-drives left is a *TransitionError.
func (s *Store) MarkUnrunnable(ctx context.Context, id string, maxRedrives int, reason string) (Task, error) {
	now := s.now()
	return s.update(ctx, id, "become DEAD as unrunnable", update{
		set: map[string]types.AttributeValue{"status": str(string(Dead)), "error": str(reason)},
		cond: "#redrives >= :max_redrives AND (#status IN (:accepted, :queued, :failed) OR " +
			"(#status = :running AND (attribute_not_exists(#lease_until) OR #lease_until < :now_ms)))",
		vals: map[string]types.AttributeValue{
			":max_redrives": num(maxRedrives), ":accepted": str(string(Accepted)), ":queued": str(string(Queued)),
			":failed": str(string(Failed)), ":running": str(string(Running)), ":now_ms": ms(now),
		},
		names: []string{"redrives", "lease_until"},
	}, true)
}

// Pending returns up to limit ACCEPTED tasks whose enqueue claim lapsed,
// from the sparse pending index (eventually consistent: the caller claims
// each before acting).
func (s *Store) Pending(ctx context.Context, limit int) ([]Task, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(PendingIndex),
		KeyConditionExpression:    aws.String("#pending = :pending AND #claim_until < :now_ms"),
		ExpressionAttributeNames:  map[string]string{"#pending": PendingAttr, "#claim_until": ClaimAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pending": str(pendingValue), ":now_ms": ms(s.now())},
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("query index %s of table %s for stranded tasks: %w", PendingIndex, s.table, err)
	}
	tasks := make([]Task, 0, len(out.Items))
	for _, item := range out.Items {
		t, err := decode(item)
		if err != nil {
			return nil, fmt.Errorf("index %s of table %s: %w", PendingIndex, s.table, err)
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

const ownerCond = "#status = :running AND #owner = :owner"

func ownerVals(owner string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{":running": str(string(Running)), ":owner": str(owner)}
}

// update is one conditional UpdateItem. Attribute names in set, add,
// remove and names are referred to as #name, values as :name in cond.
type update struct {
	set    map[string]types.AttributeValue
	add    map[string]types.AttributeValue
	remove []string
	cond   string
	vals   map[string]types.AttributeValue
	names  []string // further attributes cond refers to
}

func (s *Store) update(ctx context.Context, id, what string, u update, returnNew bool) (Task, error) {
	names := map[string]string{"#id": KeyAttr, "#updated_at": "updated_at", "#status": "status"}
	values := map[string]types.AttributeValue{":updated_at": str(s.now().UTC().Format(time.RFC3339Nano))}
	sets := []string{"#updated_at = :updated_at"}
	for k, v := range u.set {
		names["#"+k] = k
		values[":set_"+k] = v
		sets = append(sets, "#"+k+" = :set_"+k)
	}
	expr := "SET " + strings.Join(sets, ", ")
	if len(u.add) > 0 {
		var adds []string
		for k, v := range u.add {
			names["#"+k] = k
			values[":add_"+k] = v
			adds = append(adds, "#"+k+" :add_"+k)
		}
		expr += " ADD " + strings.Join(adds, ", ")
	}
	if len(u.remove) > 0 {
		rm := make([]string, len(u.remove))
		for i, k := range u.remove {
			names["#"+k] = k
			rm[i] = "#" + k
		}
		expr += " REMOVE " + strings.Join(rm, ", ")
	}
	for k, v := range u.vals {
		values[k] = v
	}
	for _, n := range append(u.names, "owner", "lease_until", "claim_until", "redrives") {
		if strings.Contains(u.cond, "#"+n) {
			names["#"+n] = n
		}
	}
	rv := types.ReturnValueNone
	if returnNew {
		rv = types.ReturnValueAllNew
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &s.table,
		Key:                                 map[string]types.AttributeValue{KeyAttr: str(id)},
		UpdateExpression:                    aws.String(expr),
		ConditionExpression:                 aws.String("attribute_exists(#id) AND " + u.cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValues:                        rv,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return Task{}, fmt.Errorf("task %s: %s in table %s: %w", id, what, s.table, ErrNotFound)
		}
		old, derr := decode(ccf.Item)
		if derr != nil {
			return Task{}, fmt.Errorf("task %s: %s in table %s: %w", id, what, s.table, derr)
		}
		return old, &TransitionError{Task: old, To: what}
	}
	if err != nil {
		return Task{}, fmt.Errorf("task %s: %s in table %s: %w", id, what, s.table, err)
	}
	if !returnNew {
		return Task{}, nil
	}
	return decode(out.Attributes)
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }
func ms(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}
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
		"runs":            num(t.Runs),
		"failures":        num(t.Failures),
		"redrives":        num(t.Redrives),
		"created_at":      str(t.CreatedAt.Format(time.RFC3339Nano)),
		"updated_at":      str(t.UpdatedAt.Format(time.RFC3339Nano)),
	}
	if t.Status == Accepted {
		item[PendingAttr] = str(pendingValue)
		item[ClaimAttr] = ms(t.ClaimUntil)
	}
	// DynamoDB rejects empty binary values in some implementations; an
	// absent payload reads back as empty.
	if len(t.Payload) > 0 {
		item["payload"] = bin(t.Payload)
	}
	return item
}

// Decode reads a task item, for tools and tests that read the table
// themselves.
func Decode(item map[string]types.AttributeValue) (Task, error) { return decode(item) }

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
	n := func(k string) int64 {
		v, ok := item[k].(*types.AttributeValueMemberN)
		if !ok {
			return 0
		}
		i, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("attribute %s=%q is not an integer", k, v.Value))
		}
		return i
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
	msTime := func(k string) time.Time {
		if _, ok := item[k]; !ok {
			return time.Time{}
		}
		return time.UnixMilli(n(k)).UTC()
	}
	t.ID = s(KeyAttr)
	t.Key = s("idempotency_key")
	t.Type = s("type")
	t.Payload = b("payload")
	t.Fingerprint = s("fingerprint")
	t.Status = Status(s("status"))
	t.Result = b("result")
	t.Error = s("error")
	t.Runs = int(n("runs"))
	t.Failures = int(n("failures"))
	t.Redrives = int(n("redrives"))
	t.Owner = s("owner")
	t.LeaseUntil = msTime("lease_until")
	t.ClaimUntil = msTime(ClaimAttr)
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
