package grpclb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// State is a target's state, named as ELBv2 names them.
type State string

const (
	Initial   State = "initial"
	Healthy   State = "healthy"
	Unhealthy State = "unhealthy"
	Draining  State = "draining"
	Unused    State = "unused" // not registered (or deregistration finished)
)

// TargetHealth is one target as DescribeTargetHealth would show it.
type TargetHealth struct {
	ID, Addr, AZ string
	State        State
	Reason       string
	InFlight     int64
	Requests     int64
}

// Stats count what the balancer did.
type Stats struct {
	Requests int64 // requests received
	// NoTarget requests found no routable target (the ALB answers 503).
	NoTarget int64
	// BackendErrors requests failed talking to the target (the ALB's 502).
	BackendErrors int64
}

// LB is a running balancer.
type LB struct {
	tg   TargetGroup
	ln   net.Listener
	srv  *http.Server
	mu   sync.Mutex
	tgts map[string]*target
	next uint64
	// done ends the health checkers when the balancer closes.
	done     chan struct{}
	closing  sync.Once
	requests atomic.Int64
	noTarget atomic.Int64
	backend  atomic.Int64
}

type target struct {
	id, addr, az string
	state        State
	reason       string
	passes       int // consecutive
	fails        int // consecutive
	drainUntil   time.Time
	inflight     atomic.Int64
	requests     atomic.Int64
	proxy        *httputil.ReverseProxy
	transport    *http.Transport
	conn         *grpc.ClientConn // health checks
	stop         chan struct{}
}

// New returns a balancer for the target group; it listens once Listen is called.
func New(tg TargetGroup) *LB {
	return &LB{tg: tg.withDefaults(), tgts: map[string]*target{}, done: make(chan struct{})}
}

// TargetGroup is the configuration in effect.
func (lb *LB) TargetGroup() TargetGroup { return lb.tg }

// Listen serves gRPC clients (HTTP/2 without TLS, prior knowledge) on addr,
// which must be a loopback address such as 127.0.0.1:0.
func (lb *LB) Listen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("grpclb %s: listen address %q: %w", lb.tg.Name, addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("grpclb %s: listen address %q is not loopback; the local balancer only serves this machine", lb.tg.Name, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("grpclb %s: listen on %s: %w", lb.tg.Name, addr, err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	lb.ln = ln
	lb.srv = &http.Server{Handler: lb, Protocols: &p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = lb.srv.Serve(ln) }()
	return nil
}

// Addr is the listening address (host:port).
func (lb *LB) Addr() string { return lb.ln.Addr().String() }

// Close stops listening, health checking and proxying.
func (lb *LB) Close() error {
	lb.closing.Do(func() { close(lb.done) })
	var err error
	if lb.srv != nil {
		err = lb.srv.Close()
	}
	lb.mu.Lock()
	for id, t := range lb.tgts {
		lb.removeLocked(id, t)
	}
	lb.mu.Unlock()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Register adds a target (addr is host:port) in availability zone az. It
// starts in the initial state and receives requests once it passes
// HealthyThreshold checks. Registering a known id again is a no-op.
func (lb *LB) Register(id, addr, az string) error {
	// The ALB opens a connection per check; a gRPC channel instead backs
	// off after a refused connection (1 s and growing), which would fail
	// checks the target could pass. Reconnect quickly, and let each check
	// wait for the connection within its timeout.
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1, MaxDelay: 50 * time.Millisecond},
			MinConnectTimeout: lb.tg.Timeout}))
	if err != nil {
		return fmt.Errorf("grpclb %s: register target %s (%s): %w", lb.tg.Name, id, addr, err)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if old := lb.tgts[id]; old != nil && old.state != Draining {
		_ = conn.Close()
		return nil
	} else if old != nil {
		lb.removeLocked(id, old)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
	t := &target{id: id, addr: addr, az: az, state: Initial, reason: "Elb.RegistrationInProgress",
		transport: tr, conn: conn, stop: make(chan struct{})}
	t.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", addr
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			lb.backend.Add(1)
			writeStatus(w, codes.Unavailable, fmt.Sprintf("grpclb %s: target %s (%s, %s) failed: %v", lb.tg.Name, id, addr, az, err))
		},
	}
	lb.tgts[id] = t
	go lb.check(t)
	return nil
}

// Deregister starts draining a target: it gets no new requests at once and
// is removed after the deregistration delay, or as soon as nothing is in
// flight, as the ALB does.
func (lb *LB) Deregister(id string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	t := lb.tgts[id]
	if t == nil || t.state == Draining {
		return
	}
	t.state, t.reason = Draining, "Target.DeregistrationInProgress"
	t.drainUntil = time.Now().Add(lb.tg.DeregistrationDelay)
	close(t.stop) // the ALB stops health-checking a draining target
	go lb.drain(id, t)
}

func (lb *LB) drain(id string, t *target) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-lb.done:
			return
		case <-tick.C:
		}
		if time.Now().After(t.drainUntil) || t.inflight.Load() == 0 {
			lb.mu.Lock()
			if lb.tgts[id] == t {
				lb.removeLocked(id, t)
			}
			lb.mu.Unlock()
			return
		}
	}
}

func (lb *LB) removeLocked(id string, t *target) {
	delete(lb.tgts, id)
	if t.state != Draining {
		close(t.stop)
	}
	_ = t.conn.Close()
	// Idle connections go; in-flight requests keep theirs until they end.
	t.transport.CloseIdleConnections()
}

// Health is a target's state and reason (Unused if it is unknown).
func (lb *LB) Health(id string) (State, string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	t := lb.tgts[id]
	if t == nil {
		return Unused, "Target.NotRegistered"
	}
	return t.state, t.reason
}

// Targets lists every registered target, sorted by id.
func (lb *LB) Targets() []TargetHealth {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make([]TargetHealth, 0, len(lb.tgts))
	for _, t := range lb.tgts {
		out = append(out, TargetHealth{ID: t.id, Addr: t.addr, AZ: t.az, State: t.state, Reason: t.reason,
			InFlight: t.inflight.Load(), Requests: t.requests.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// HealthyCount is the number of healthy targets.
func (lb *LB) HealthyCount() int {
	n := 0
	for _, t := range lb.Targets() {
		if t.State == Healthy {
			n++
		}
	}
	return n
}

// Stats returns the counters.
func (lb *LB) Stats() Stats {
	return Stats{Requests: lb.requests.Load(), NoTarget: lb.noTarget.Load(), BackendErrors: lb.backend.Load()}
}

// check health-checks one target until it drains or the balancer closes.
func (lb *LB) check(t *target) {
	hc := healthpb.NewHealthClient(t.conn)
	tick := time.NewTicker(lb.tg.Interval)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), lb.tg.Timeout)
		_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: lb.tg.HealthService}, grpc.WaitForReady(true))
		timedOut := ctx.Err() != nil
		cancel()
		// A check that timed out without a connection is the ALB's
		// Target.FailedHealthChecks (nothing listens), not Target.Timeout.
		refused := timedOut && t.conn.GetState() != connectivity.Ready
		lb.record(t, status.Code(err), timedOut, refused)
		select {
		case <-t.stop:
			return
		case <-lb.done:
			return
		case <-tick.C:
		}
	}
}

// record applies one check result with the thresholds.
func (lb *LB) record(t *target, code codes.Code, timedOut, refused bool) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if t.state == Draining || lb.tgts[t.id] != t {
		return
	}
	if !timedOut && lb.tg.matches(code) {
		t.passes++
		t.fails = 0
		if t.state != Healthy && t.passes >= lb.tg.HealthyThreshold {
			t.state, t.reason = Healthy, ""
		}
		return
	}
	t.fails++
	t.passes = 0
	if t.state != Unhealthy && t.fails >= lb.tg.UnhealthyThreshold {
		t.state = Unhealthy
		switch {
		case refused:
			t.reason = "Health checks failed"
		case timedOut:
			t.reason = "Request timed out"
		default:
			t.reason = "Health checks failed with these codes: [" + strconv.Itoa(int(code)) + "]"
		}
	}
}

// pick chooses the next target round robin among healthy ones. When no
// target is healthy the ALB fails open to every registered target that is
// not draining; draining targets never get new requests.
func (lb *LB) pick() *target {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var healthy, open []*target
	for _, t := range lb.tgts {
		switch t.state {
		case Healthy:
			healthy = append(healthy, t)
			open = append(open, t)
		case Initial, Unhealthy:
			open = append(open, t)
		}
	}
	cands := healthy
	if len(cands) == 0 {
		cands = open
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].id < cands[j].id })
	lb.next++
	t := cands[lb.next%uint64(len(cands))]
	t.inflight.Add(1) // under the lock, so a drain never misses it
	return t
}

// ServeHTTP routes one gRPC request.
func (lb *LB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	lb.requests.Add(1)
	t := lb.pick()
	if t == nil {
		lb.noTarget.Add(1)
		writeStatus(w, codes.Unavailable, fmt.Sprintf("grpclb %s: no registered target can take the request (503)", lb.tg.Name))
		return
	}
	defer t.inflight.Add(-1)
	t.requests.Add(1)
	t.proxy.ServeHTTP(w, r)
}

// writeStatus answers a gRPC call with a trailers-only status.
func writeStatus(w http.ResponseWriter, c codes.Code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(int(c)))
	h.Set("Grpc-Message", encodeGrpcMessage(msg))
	w.WriteHeader(http.StatusOK)
}

// encodeGrpcMessage percent-encodes what the grpc-message header may not
// carry (gRPC's wire rule: printable ASCII except '%').
func encodeGrpcMessage(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '%' {
			b = append(b, c)
			continue
		}
		b = append(b, fmt.Sprintf("%%%02X", c)...)
	}
	return string(b)
}
