// Command servicesbench measures what the services add on top of the AWS
// calls they make, against a private moto on loopback (bench/services.sh):
//
//   - submit: SubmitTask through the api process vs the same three calls
//     (conditional PutItem, SendMessage, UpdateItem) issued directly, with
//     the same concurrency; throughput, p50 and p99, and the ratio.
//   - worker: echo tasks/s through the worker vs a raw consumer making the
//     worker's calls (ReceiveMessage of 10, UpdateItem RUNNING and
//     SUCCEEDED per task, DeleteMessageBatch) with the same concurrency.
//
// Every loop is bounded by a task count. Goal: both ratios >= 0.8.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/api/taskservice"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
	"github.com/conveyor-dev/conveyor/services/internal/tasktype"
	"github.com/conveyor-dev/conveyor/services/local/localrun"
	"github.com/conveyor-dev/conveyor/services/local/provision"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
	"github.com/conveyor-dev/conveyor/services/worker/runner"
)

func main() {
	submits := flag.Int("submits", 150, "submits per measured round")
	tasks := flag.Int("tasks", 150, "echo tasks per measured worker round")
	conc := flag.Int("concurrency", 8, "concurrent submitters / worker concurrency")
	rounds := flag.Int("rounds", 2, "alternating rounds per side")
	flag.Parse()
	if err := run(context.Background(), *submits, *tasks, *conc, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "servicesbench:", err)
		os.Exit(1)
	}
}

type env struct {
	cfg   aws.Config
	store *taskstore.Store
	queue *queue.Queue
	world provision.World
}

func run(ctx context.Context, submits, tasks, conc, rounds int) error {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return errors.New("moto_server not found on PATH: pip install \"moto[server]\"")
	}
	moto, err := motoserver.Launch(ctx, bin)
	if err != nil {
		return err
	}
	defer moto.Stop()
	cfg, err := moto.Config(ctx)
	if err != nil {
		return err
	}
	w, err := provision.Create(ctx, cfg, provision.UniqueName("bench"), provision.Options{})
	if err != nil {
		return err
	}
	e := &env{cfg: cfg, world: w, store: taskstore.New(dynamodb.NewFromConfig(cfg), w.Table), queue: queue.New(sqs.NewFromConfig(cfg), w.QueueURL)}

	dir, err := os.MkdirTemp("", "conveyor-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bins, err := localrun.Build(ctx, dir, "api")
	if err != nil {
		return err
	}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return err
	}
	api, err := localrun.Start("api", bins["api"], append(append(moto.Env(), w.Env()...), "CONVEYOR_LISTEN="+addr, "CONVEYOR_DRAIN_WINDOW=0s"), nil)
	if err != nil {
		return err
	}
	defer api.Stop(10 * time.Second)
	if _, err := api.WaitLog(30*time.Second, `"msg":"serving"`); err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := taskv1.NewTaskServiceClient(conn)

	fmt.Printf("moto %s, concurrency %d, %d submits and %d echo tasks per round, %d rounds per side\n", moto.URL, conc, submits, tasks, rounds)

	// Submit: raw calls vs the api, alternating so moto's drift hits both.
	raw := func(ctx context.Context, key string) error {
		t, _, err := e.store.Create(ctx, key, "echo", []byte("bench"), taskservice.EnqueueClaim)
		if err != nil {
			return err
		}
		if err := e.queue.Send(ctx, queue.Body{TaskID: t.ID, Type: t.Type, Payload: t.Payload}); err != nil {
			return err
		}
		return e.store.MarkQueued(ctx, t.ID)
	}
	viaAPI := func(ctx context.Context, key string) error {
		_, err := client.SubmitTask(ctx, &taskv1.SubmitTaskRequest{IdempotencyKey: key, Type: "echo", Payload: []byte("bench")})
		return err
	}
	if _, err := load(ctx, "warm-raw", 50, conc, raw); err != nil {
		return err
	}
	if _, err := load(ctx, "warm-api", 50, conc, viaAPI); err != nil {
		return err
	}
	var rawS, apiS sample
	for r := range rounds {
		s, err := load(ctx, fmt.Sprintf("raw-%d", r), submits, conc, raw)
		if err != nil {
			return err
		}
		rawS.add(s)
		s, err = load(ctx, fmt.Sprintf("api-%d", r), submits, conc, viaAPI)
		if err != nil {
			return err
		}
		apiS.add(s)
	}
	fmt.Printf("\nSubmitTask (%d concurrent)\n", conc)
	fmt.Printf("  raw PutItem+SendMessage+UpdateItem  %7.1f submits/s  p50 %6.2f ms  p99 %6.2f ms\n", rawS.rate(), ms(rawS.pct(50)), ms(rawS.pct(99)))
	fmt.Printf("  through the api (gRPC)              %7.1f submits/s  p50 %6.2f ms  p99 %6.2f ms\n", apiS.rate(), ms(apiS.pct(50)), ms(apiS.pct(99)))
	fmt.Printf("  ratio api/raw                       %.2f (goal >= 0.80)\n", apiS.rate()/rawS.rate())

	// Empty the queue the submit rounds filled before the worker rounds.
	if err := purge(ctx, e); err != nil {
		return err
	}
	var rawW, wrkW float64
	var rawN, wrkN int
	for r := range rounds {
		d, err := consume(ctx, e, fmt.Sprintf("rawtask-%d", r), tasks, conc, rawConsumer(e, conc))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  round %d: raw consumer %s", r, d.Round(time.Millisecond))
		rawW += d.Seconds()
		rawN += tasks
		d, err = consume(ctx, e, fmt.Sprintf("wrktask-%d", r), tasks, conc, workerConsumer(e, conc))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, ", worker %s\n", d.Round(time.Millisecond))
		wrkW += d.Seconds()
		wrkN += tasks
	}
	rawRate, wrkRate := float64(rawN)/rawW, float64(wrkN)/wrkW
	fmt.Printf("\nworker, echo tasks (%d concurrent)\n", conc)
	fmt.Printf("  raw Receive(10)+UpdateItem x2+DeleteBatch  %7.1f tasks/s\n", rawRate)
	fmt.Printf("  through the worker                         %7.1f tasks/s\n", wrkRate)
	fmt.Printf("  ratio worker/raw                           %.2f (goal >= 0.80)\n", wrkRate/rawRate)
	return nil
}

// sample is latencies and wall time of load rounds.
type sample struct {
	lat  []time.Duration
	wall time.Duration
}

func (s *sample) add(o sample)  { s.lat = append(s.lat, o.lat...); s.wall += o.wall }
func (s *sample) rate() float64 { return float64(len(s.lat)) / s.wall.Seconds() }
func (s *sample) pct(p int) time.Duration {
	l := slices.Clone(s.lat)
	slices.Sort(l)
	return l[min(len(l)-1, len(l)*p/100)]
}
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// load runs n calls of op with conc workers, each with a unique key.
func load(ctx context.Context, name string, n, conc int, op func(context.Context, string) error) (sample, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(ctx, fmt.Sprintf("bench-%s-%06d", name, i)); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("%s call %d: %w", name, i, err) })
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return sample{lat: lat, wall: time.Since(start)}, firstErr
}

// preload puts n echo tasks on the queue, as the api would (not timed).
func preload(ctx context.Context, e *env, prefix string, n, conc int) error {
	_, err := load(ctx, prefix, n, conc, func(ctx context.Context, key string) error {
		t, _, err := e.store.Create(ctx, key, "echo", []byte("bench"), taskservice.EnqueueClaim)
		if err != nil {
			return err
		}
		if err := e.queue.Send(ctx, queue.Body{TaskID: t.ID, Type: t.Type, Payload: t.Payload}); err != nil {
			return err
		}
		return e.store.MarkQueued(ctx, t.ID)
	})
	return err
}

func purge(ctx context.Context, e *env) error {
	for {
		msgs, err := e.queue.Receive(ctx, 10, 0, 60*time.Second)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
		rh := make([]string, len(msgs))
		for i, m := range msgs {
			rh[i] = m.ReceiptHandle
		}
		if err := e.queue.Delete(ctx, rh); err != nil {
			return err
		}
	}
}

// consume preloads n tasks, starts a consumer and measures until the queue
// is empty, detected the same way (a depth poll every 100 ms) for both
// consumers so neither gets an edge.
func consume(ctx context.Context, e *env, prefix string, n, conc int, start func(context.Context) <-chan error) (time.Duration, error) {
	if err := preload(ctx, e, prefix, n, conc); err != nil {
		return 0, err
	}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	t0 := time.Now()
	errc := start(cctx)
	for {
		select {
		case err := <-errc:
			return 0, fmt.Errorf("%s consumer stopped early: %w", prefix, err)
		case <-time.After(100 * time.Millisecond):
		}
		v, inflight, err := provision.Depth(ctx, e.cfg, e.world.QueueURL)
		if err != nil {
			return 0, err
		}
		if v+inflight == 0 {
			break
		}
	}
	d := time.Since(t0)
	stop()
	err := <-errc
	// A long poll abandoned by a stopped consumer may still take a message
	// of the next round; let it expire first.
	time.Sleep(1500 * time.Millisecond)
	return d, err
}

// rawConsumer makes the worker's calls with nothing around them: one
// receive loop (batches of 10) feeding conc goroutines that make the two
// UpdateItem calls per task (take the lease, record the result), deleting
// in batches of 10.
func rawConsumer(e *env, conc int) func(context.Context) <-chan error {
	return func(ctx context.Context) <-chan error {
		errc := make(chan error, 1)
		echo := tasktype.Builtin()["echo"]
		msgs := make(chan queue.Message)
		var mu sync.Mutex
		var pending []string
		flush := func(all bool) error {
			mu.Lock()
			var batch []string
			if len(pending) >= queue.MaxBatch || (all && len(pending) > 0) {
				batch, pending = pending, nil
			}
			mu.Unlock()
			if batch == nil {
				return nil
			}
			return e.queue.Delete(context.WithoutCancel(ctx), batch)
		}
		var wg sync.WaitGroup
		var once sync.Once
		fail := func(err error) { once.Do(func() { errc <- err }) }
		for range conc {
			wg.Go(func() {
				for m := range msgs {
					t, err := e.store.Start(ctx, m.Body.TaskID, "raw", time.Minute, 3)
					if err != nil {
						fail(err)
						return
					}
					out, _ := echo.Run(ctx, tasktype.Input{TaskID: t.ID, Attempt: t.Runs, Payload: m.Body.Payload})
					if err := e.store.Succeed(ctx, m.Body.TaskID, "raw", out); err != nil {
						fail(err)
						return
					}
					mu.Lock()
					pending = append(pending, m.ReceiptHandle)
					mu.Unlock()
					if err := flush(false); err != nil {
						fail(err)
						return
					}
				}
			})
		}
		go func() {
			defer func() {
				close(msgs)
				wg.Wait()
				if err := flush(true); err != nil {
					fail(err)
				}
				fail(nil)
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for ctx.Err() == nil {
				batch, err := e.queue.Receive(ctx, queue.MaxBatch, time.Second, 30*time.Second)
				if err != nil {
					if ctx.Err() == nil {
						fail(err)
					}
					return
				}
				for _, m := range batch {
					msgs <- m
				}
				select {
				case <-tick.C:
					// A partial batch waits at most this long, as in the worker.
					go func() {
						if err := flush(true); err != nil {
							fail(err)
						}
					}()
				default:
				}
			}
		}()
		return errc
	}
}

// workerConsumer runs the worker in-process.
func workerConsumer(e *env, conc int) func(context.Context) <-chan error {
	return func(ctx context.Context) <-chan error {
		cfg := runner.Config{
			Table: e.world.Table, QueueURL: e.world.QueueURL, Concurrency: conc, BatchSize: queue.MaxBatch,
			WaitTime: time.Second, Visibility: 30 * time.Second, Heartbeat: 10 * time.Second,
			RetryDelay: time.Second, StopBudget: 10 * time.Second, TaskTimeout: time.Minute, DeleteFlush: 100 * time.Millisecond,
			MaxFailures: 3,
		}
		var lw io.Writer = io.Discard
		if os.Getenv("BENCH_WORKER_LOG") != "" {
			lw = os.Stderr
		}
		w := runner.New(cfg, e.store, e.queue, tasktype.Builtin(), slog.New(slog.NewJSONHandler(lw, nil)))
		errc := make(chan error, 1)
		go func() { errc <- w.Run(ctx) }()
		return errc
	}
}
