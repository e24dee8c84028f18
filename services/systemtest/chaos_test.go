package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/conveyor-dev/conveyor/services/internal/faultproxy"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/local/localrun"
	"github.com/conveyor-dev/conveyor/services/local/provision"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// ChaosEnv sets the length of the fault-injection run (`make chaos` sets
// it to minutes); the default is the short run of `make test`.
const ChaosEnv = "CONVEYOR_CHAOS_DURATION"

// chaos tuning: short leases and visibility so faults and kills turn into
// redeliveries, takeovers and re-drives within the run.
var (
	chaosWorker = []string{"CONVEYOR_VISIBILITY_TIMEOUT=4s", "CONVEYOR_HEARTBEAT=1s", "CONVEYOR_RETRY_DELAY=1s", "CONVEYOR_STOP_BUDGET=3s", "CONVEYOR_CONCURRENCY=4"}
	chaosDLQ    = []string{"CONVEYOR_WAIT_TIME=1s", "CONVEYOR_VISIBILITY_TIMEOUT=4s", "CONVEYOR_RECOVERY_INTERVAL=1s", "CONVEYOR_MAX_REDRIVES=100"}
	// faultPlans are drawn every couple of seconds.
	faultPlans = []faultproxy.Plan{
		{},
		{Rate: 0.3, Kinds: []faultproxy.Kind{faultproxy.Latency}, Latency: 400 * time.Millisecond},
		{Rate: 0.15, Kinds: []faultproxy.Kind{faultproxy.ServerError, faultproxy.Throttle}},
		{Rate: 0.1, Kinds: []faultproxy.Kind{faultproxy.DropBefore, faultproxy.DropAfter}},
		{Rate: 0.2, Kinds: []faultproxy.Kind{faultproxy.Latency, faultproxy.ServerError, faultproxy.Throttle, faultproxy.DropBefore, faultproxy.DropAfter}, Latency: 300 * time.Millisecond},
		{Outage: true, Services: []string{"dynamodb"}},
		{Outage: true, Services: []string{"sqs"}},
	}
)

// chaosKey returns the request a client sends under key number i: the same
// every time, so retries are retries. One key in ten fails on purpose.
func chaosKey(i int) *taskv1.SubmitTaskRequest {
	key := fmt.Sprintf("chaos-key-%05d", i)
	switch i % 10 {
	case 0:
		return &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: "fail", Payload: []byte("chaos")}
	case 1, 2, 3:
		return &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: "sleep", Payload: []byte(fmt.Sprintf("%dms", 100+(i*137)%1400))}
	}
	return &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: "echo", Payload: []byte(key)}
}

// fleet is the processes of a chaos run, dead and alive.
type fleet struct {
	s  *system
	mu sync.Mutex
	// every process started, with when it died (zero while alive)
	procs []*member
	apis  []*grpc.ClientConn
}

type member struct {
	name string
	p    *localrun.Proc
	conn *grpc.ClientConn // api only
	died time.Time
}

func (f *fleet) add(name string) {
	m := &member{name: name}
	switch name {
	case "api":
		m.p, m.conn = f.s.api()
	case "worker":
		m.p = f.s.start("worker", "worker started", chaosWorker...)
	case "dlq":
		m.p = f.s.start("dlq", "dlq drainer started", chaosDLQ...)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.procs = append(f.procs, m)
}

// client returns the connection of a live api, at random.
func (f *fleet) client(rng *rand.Rand) taskv1.TaskServiceClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	var live []*member
	for _, m := range f.procs {
		if m.conn != nil && m.died.IsZero() {
			live = append(live, m)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return taskv1.NewTaskServiceClient(live[rng.IntN(len(live))].conn)
}

// kill sends sig to a live api or worker at random and starts its
// replacement, so the fleet keeps its size.
func (f *fleet) kill(rng *rand.Rand, sig syscall.Signal) string {
	f.mu.Lock()
	var live []*member
	for _, m := range f.procs {
		if (m.name == "api" || m.name == "worker") && m.died.IsZero() {
			live = append(live, m)
		}
	}
	if len(live) == 0 {
		f.mu.Unlock()
		return ""
	}
	m := live[rng.IntN(len(live))]
	f.mu.Unlock()
	_ = m.p.Signal(sig)
	_, _ = m.p.Wait(30 * time.Second)
	f.mu.Lock()
	m.died = time.Now()
	f.mu.Unlock()
	f.add(m.name)
	return m.name
}

// TestChaosKeepsEveryPromise runs the real api (2), worker (3) and dlq
// processes against moto through the fault proxy, with faults on a
// schedule, random SIGKILL and SIGTERM of api and worker processes, and
// clients submitting a pool of keys concurrently with short deadlines.
// Then, from the task rows and the workers' logs: every task is final
// within a bound (SUCCEEDED, or DEAD with its recorded failed runs), no two
// runs of a task overlapped, one task per key.
func TestChaosKeepsEveryPromise(t *testing.T) {
	duration := 15 * time.Second
	if v := os.Getenv(ChaosEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q is not a duration", ChaosEnv, v)
		}
		duration = d
	}
	s := newSystem(t, provision.Options{MaxReceiveCount: 3, VisibilityTimeout: 4 * time.Second})
	seed := uint64(time.Now().UnixNano())
	t.Logf("chaos run of %s, seed %d", duration, seed)
	f := &fleet{s: s}
	for _, name := range []string{"api", "api", "worker", "worker", "worker", "dlq"} {
		f.add(name)
	}

	var (
		mu         sync.Mutex
		accepted   = map[string]string{} // task id -> key, for submits that returned OK
		dedup      int
		submits    int
		errCodes   = map[string]int{}
		wrongID    []string
		kills      = map[string]int{}
		plansDrawn int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// New keys keep coming in a long run: ten per second of it.
	keyPool := max(150, 10*int(duration/time.Second))
	for g := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := f.client(rng)
				if c == nil {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				req := chaosKey(rng.IntN(keyPool))
				// Deadlines from 5 ms (gone before the api is done) to 2 s.
				deadline := time.Duration(5+rng.IntN(2000)) * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				resp, err := c.SubmitTask(ctx, req)
				cancel()
				mu.Lock()
				submits++
				if err != nil {
					errCodes[status.Code(err).String()]++
				} else {
					accepted[resp.Task.TaskId] = req.IdempotencyKey
					if resp.Deduplicated {
						dedup++
					}
					if resp.Task.TaskId != taskstore.TaskID(req.IdempotencyKey) {
						wrongID = append(wrongID, req.IdempotencyKey)
					}
				}
				mu.Unlock()
				time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			}
		})
	}
	wg.Go(func() { // the fault schedule
		rng := rand.New(rand.NewPCG(seed, 100))
		for {
			pl := faultPlans[rng.IntN(len(faultPlans))]
			s.proxy.SetPlan(pl)
			mu.Lock()
			plansDrawn++
			mu.Unlock()
			hold := time.Duration(1000+rng.IntN(2000)) * time.Millisecond
			if pl.Outage {
				hold = time.Duration(500+rng.IntN(2500)) * time.Millisecond
			}
			select {
			case <-stop:
				return
			case <-time.After(hold):
			}
		}
	})
	wg.Go(func() { // the killer
		rng := rand.New(rand.NewPCG(seed, 200))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1500+rng.IntN(3000)) * time.Millisecond):
			}
			sig := syscall.SIGKILL
			if rng.IntN(2) == 0 {
				sig = syscall.SIGTERM
			}
			if name := f.kill(rng, sig); name != "" {
				mu.Lock()
				kills[name+" "+sig.String()]++
				mu.Unlock()
			}
		}
	})
	time.Sleep(duration)
	close(stop)
	wg.Wait()
	s.proxy.SetPlan(faultproxy.Plan{})
	faults := s.proxy.Counts()

	// Every task in the table must become final within the bound: the
	// accepted ones and those whose submit failed after PutItem.
	const bound = 2 * time.Minute
	ctx := context.Background()
	db := dynamodb.NewFromConfig(s.cfg)
	deadline := time.Now().Add(bound)
	var rows []taskstore.Task
	for {
		var err error
		rows, err = scanTasks(ctx, db, s.world.Table)
		if err != nil {
			t.Fatal(err)
		}
		if unfinished(rows) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}

	var runs []run
	droppedDup, waitedLease, redriven, recovered, fenced := 0, 0, 0, 0, 0
	f.mu.Lock()
	for i, m := range f.procs {
		logs := m.p.Logs()
		if m.name == "worker" {
			runs = append(runs, parseRuns(fmt.Sprintf("worker#%d", i), logs, m.died)...)
		}
		droppedDup += strings.Count(logs, "dropping the duplicate message")
		waitedLease += strings.Count(logs, "another run holds the task")
		fenced += strings.Count(logs, "lost its lease; its outcome is not recorded")
		redriven += strings.Count(logs, `"msg":"task re-driven`)
		recovered += strings.Count(logs, "recovery: queued a task stranded")
	}
	f.mu.Unlock()
	over := overlaps(runs)

	byID := map[string]taskstore.Task{}
	keys := map[string]int{}
	var stranded, deadNoFailures, dead, succeeded []string
	for _, r := range rows {
		byID[r.ID] = r
		keys[r.Key]++
		switch {
		case !r.Status.Terminal():
			stranded = append(stranded, fmt.Sprintf("%s (%s, runs %d, failures %d, redrives %d)", r.ID, r.Status, r.Runs, r.Failures, r.Redrives))
		case r.Status == taskstore.Dead && r.Failures < 3:
			deadNoFailures = append(deadNoFailures, fmt.Sprintf("%s (%s, failures %d: %s)", r.ID, r.Key, r.Failures, r.Error))
		case r.Status == taskstore.Dead:
			dead = append(dead, r.ID)
		default:
			succeeded = append(succeeded, r.ID)
		}
		if r.Status == taskstore.Succeeded && r.Type == "fail" {
			t.Errorf("task %s of type fail SUCCEEDED", r.ID)
		}
	}
	missing := 0
	for id, key := range accepted {
		if r, ok := byID[id]; !ok || r.Key != key {
			missing++
			t.Errorf("accepted task %s (key %s) is not in the table under its key", id, key)
		}
	}
	for key, n := range keys {
		if n != 1 {
			t.Errorf("key %s has %d tasks", key, n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("chaos: %s, %d submits (%d OK, %d deduplicated), errors by code %v", duration, submits, submits-sum(errCodes), dedup, errCodes)
	t.Logf("chaos: tasks %d (succeeded %d, dead after recorded failures %d), runs %d, accepted %d", len(rows), len(succeeded), len(dead), len(runs), len(accepted))
	t.Logf("chaos: fault plans %d, faults injected %v, kills %v", plansDrawn, faults, kills)
	t.Logf("chaos: duplicate messages dropped %d, deliveries that waited for a live lease %d, runs fenced %d, re-drives %d, stranded tasks recovered %d", droppedDup, waitedLease, fenced, redriven, recovered)
	t.Logf("chaos: overlaps = %d, stranded = %d, dead without failed runs = %d, wrong task ids = %d, missing = %d", len(over), len(stranded), len(deadNoFailures), len(wrongID), missing)
	if len(over) > 0 {
		t.Errorf("runs overlapped:\n%s", strings.Join(over, "\n"))
	}
	if len(stranded) > 0 {
		sort.Strings(stranded)
		t.Errorf("%d tasks not final %s after the faults stopped:\n%s", len(stranded), bound, strings.Join(stranded, "\n"))
	}
	if len(deadNoFailures) > 0 {
		t.Errorf("DEAD without the recorded failed runs:\n%s", strings.Join(deadNoFailures, "\n"))
	}
	if len(wrongID) > 0 {
		t.Errorf("keys answered with another key's task: %v", wrongID)
	}
	if len(accepted) == 0 || len(runs) == 0 {
		t.Errorf("the run proved nothing: %d tasks accepted, %d runs", len(accepted), len(runs))
	}
}

// scanTasks reads every task row (the test's own view; no service scans).
func scanTasks(ctx context.Context, db *dynamodb.Client, table string) ([]taskstore.Task, error) {
	var out []taskstore.Task
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: &table, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan table %s: %w", table, err)
		}
		for _, item := range page.Items {
			t, err := taskstore.Decode(item)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func unfinished(rows []taskstore.Task) int {
	n := 0
	for _, r := range rows {
		if !r.Status.Terminal() {
			n++
		}
	}
	return n
}
