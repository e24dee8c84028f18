package grpclb

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// backend is a real gRPC server on loopback: a health service whose answer
// the test sets, and a UnaryCall that waits for the requested time and
// answers with the backend's name.
type backend struct {
	testpb.UnimplementedTestServiceServer
	healthpb.UnimplementedHealthServer
	name   string
	addr   string
	code   atomic.Int32 // what Check answers
	served atomic.Int64
}

func (b *backend) Check(context.Context, *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if c := codes.Code(b.code.Load()); c != codes.OK {
		return nil, status.Error(c, b.name+" is not serving")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (b *backend) UnaryCall(ctx context.Context, r *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	time.Sleep(time.Duration(r.GetResponseSize()) * time.Millisecond)
	b.served.Add(1)
	return &testpb.SimpleResponse{Username: b.name}, nil
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: ln.Addr().String()}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, b)
	healthpb.RegisterHealthServer(s, b)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return b
}

func startLB(t *testing.T, tg TargetGroup) (*LB, testpb.TestServiceClient) {
	t.Helper()
	lb := New(tg)
	if err := lb.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lb.Close() })
	conn, err := grpc.NewClient("passthrough:///"+lb.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return lb, testpb.NewTestServiceClient(conn)
}

var fast = TargetGroup{Name: "tg", Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond,
	HealthyThreshold: 2, UnhealthyThreshold: 2, DeregistrationDelay: 2 * time.Second}

func waitState(t *testing.T, lb *LB, id string, want State) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if s, _ := lb.Health(id); s == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, r := lb.Health(id)
	t.Fatalf("target %s is %s (%s), want %s", id, s, r, want)
}

func call(c testpb.TestServiceClient, waitMS int32) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: waitMS})
	return r.GetUsername(), err
}

func TestRoutesOnlyToHealthyTargets(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	b.code.Store(int32(codes.Unavailable)) // b answers health checks with 14, as a draining api does
	lb, c := startLB(t, fast)
	if err := lb.Register("a", a.addr, "az-a"); err != nil {
		t.Fatal(err)
	}
	if err := lb.Register("b", b.addr, "az-b"); err != nil {
		t.Fatal(err)
	}
	waitState(t, lb, "a", Healthy)
	waitState(t, lb, "b", Unhealthy)
	if _, reason := lb.Health("b"); reason != "Health checks failed with these codes: [14]" {
		t.Errorf("unhealthy reason = %q", reason)
	}
	for i := 0; i < 20; i++ {
		got, err := call(c, 0)
		if err != nil {
			t.Fatalf("call %d through the balancer: %v", i, err)
		}
		if got != "a" {
			t.Fatalf("call %d went to %s, an unhealthy target", i, got)
		}
	}
	// b recovers after HealthyThreshold passes and shares the load.
	b.code.Store(int32(codes.OK))
	waitState(t, lb, "b", Healthy)
	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		got, err := call(c, 0)
		if err != nil {
			t.Fatal(err)
		}
		seen[got]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("round robin over two healthy targets served %v", seen)
	}
}

func TestDrainingTargetFinishesInFlightAndGetsNoNewRequests(t *testing.T) {
	a, b := startBackend(t, "a"), startBackend(t, "b")
	lb, c := startLB(t, fast)
	_ = lb.Register("a", a.addr, "az-a")
	waitState(t, lb, "a", Healthy)

	// A slow call is in flight on a when a is deregistered.
	var wg sync.WaitGroup
	var slowTo string
	var slowErr error
	wg.Add(1)
	go func() { defer wg.Done(); slowTo, slowErr = call(c, 500) }()
	deadline := time.Now().Add(2 * time.Second)
	for lb.Targets()[0].InFlight == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = lb.Register("b", b.addr, "az-b")
	waitState(t, lb, "b", Healthy)
	lb.Deregister("a")
	if s, _ := lb.Health("a"); s != Draining {
		t.Fatalf("a is %s right after Deregister, want draining", s)
	}
	before := a.served.Load()
	for i := 0; i < 20; i++ {
		got, err := call(c, 0)
		if err != nil || got != "b" {
			t.Fatalf("new call %d during the drain went to %q (err %v), want b", i, got, err)
		}
	}
	wg.Wait()
	if slowErr != nil || slowTo != "a" {
		t.Fatalf("the in-flight call on the draining target: %q, %v; want it to finish on a", slowTo, slowErr)
	}
	if a.served.Load() != before+1 {
		t.Errorf("a served %d calls after deregistration, want only the in-flight one", a.served.Load()-before)
	}
	// Nothing in flight any more: the deregistration completes.
	waitState(t, lb, "a", Unused)
}

func TestNoTargetAnswersUnavailable(t *testing.T) {
	lb, c := startLB(t, fast)
	_, err := call(c, 0)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call with no targets: %v, want Unavailable", err)
	}
	if lb.Stats().NoTarget != 1 {
		t.Errorf("stats %+v, want one no-target request", lb.Stats())
	}
}

func TestParseMatcher(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{{"0", 1, true}, {"0,12", 2, true}, {"0-99", 100, true}, {"4-2", 0, false}, {"x", 0, false}, {"100", 0, false}} {
		got, err := ParseMatcher(c.in)
		if (err == nil) != c.ok || len(got) != c.want {
			t.Errorf("ParseMatcher(%q) = %v, %v; want %d codes, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestTargetWithNothingListeningFailsHealthChecks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here any more
	lb, _ := startLB(t, fast)
	_ = lb.Register("gone", addr, "az-a")
	waitState(t, lb, "gone", Unhealthy)
	if _, reason := lb.Health("gone"); reason != "Health checks failed" {
		t.Errorf("reason %q, want the ALB's failed-health-checks text for a closed port", reason)
	}
}
