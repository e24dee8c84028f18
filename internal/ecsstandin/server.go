// Package ecsstandin is the ECS rollout stand-in: a loopback HTTP server
// speaking the ECS JSON 1.1 protocol for the calls conveyor's deploy and
// rollback actions make, with a rolling-deployment state machine that follows
// AWS's documented semantics (minimumHealthyPercent rounds up,
// maximumPercent rounds down, the circuit breaker's thresholdConfiguration,
// resetOnHealthyTask and rollback to the last COMPLETED deployment, the
// rolloutStateReason and event texts ECS writes, stopped tasks kept for an
// hour, at most 10 services per DescribeServices, read throttling) and the
// service-deployments API (ListServiceDeployments,
// DescribeServiceDeployments, DescribeServiceRevisions,
// StopServiceDeployment) with its statuses. Each modelled fact cites its
// source next to the code (servicedeploy.go, state.go, scenario.go).
//
// moto records ECS calls but never progresses a deployment; this server does,
// driven by a Scenario that says what tasks of each image do, on a Clock that
// tests advance by hand or run faster than real time. Run it with
//
//	go run ./internal/ecsstandin/cmd/ecs-standin -addr 127.0.0.1:0 -scenario internal/ecsstandin/testdata/rollback.json -speed 60
//
// and aim clients at the URL it prints (AWS_ENDPOINT_URL_ECS, or the aws
// CLI's --endpoint-url). Tasks start and stop through a Launcher, so a mode
// that runs the services' real binaries can replace the simulation.
package ecsstandin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Options configure a Server.
type Options struct {
	Scenario Scenario
	// Speed is virtual seconds per real second; 0 means the clock moves
	// only through Advance.
	Speed float64
	// Start is the clock's initial virtual time (default: now).
	Start time.Time
	// Launcher starts tasks (default: simulated from the Scenario).
	Launcher Launcher
}

// Server is a running stand-in.
type Server struct {
	w       *world
	srv     *http.Server
	ln      net.Listener
	URL     string // http://127.0.0.1:PORT once listening
	closing atomic.Bool
	// conns counts accepted TCP connections, serverClosed those the
	// stand-in closed while the client had not (see countingListener).
	conns, serverClosed atomic.Int64
}

// countingListener tells connections the client ended (a read saw EOF or
// a reset before Close) from those the server closed on its own.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.conns.Add(1)
	return &countingConn{Conn: c, s: l.s}, nil
}

type countingConn struct {
	net.Conn
	s          *Server
	clientGone atomic.Bool
	closed     atomic.Bool
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.clientGone.Store(true)
	}
	return n, err
}

func (c *countingConn) Close() error {
	if !c.closed.Swap(true) && !c.clientGone.Load() && !c.s.closing.Load() {
		c.s.serverClosed.Add(1)
	}
	return c.Conn.Close()
}

// New returns a stand-in that is not yet listening; it is an http.Handler.
func New(opts Options) (*Server, error) {
	if err := opts.Scenario.validate(); err != nil {
		return nil, err
	}
	start := opts.Start
	if start.IsZero() {
		start = time.Now().UTC().Truncate(time.Second)
	}
	w := &world{clock: NewClock(start, opts.Speed), scen: opts.Scenario, start: start, ruleUses: map[int]int{},
		clusters: map[string]*cluster{}, taskDefs: map[string]*taskDef{}, families: map[string][]*taskDef{},
		deployments: map[string]*deployment{}, sdeps: map[string]*serviceDeployment{},
		revisions: map[string]*serviceRevision{}, calls: map[string]int{},
		idBase: 1_000_000_000_000_000_000 + rand.Uint64N(8_000_000_000_000_000_000),
		bucket: newBucket(opts.Scenario.ThrottleRate, opts.Scenario.ThrottleBurst)}
	w.launcher = opts.Launcher
	if w.launcher == nil {
		w.launcher = scenarioLauncher{w: w}
	}
	return &Server{w: w}, nil
}

// Listen serves on addr (e.g. 127.0.0.1:0) until Close.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ecs stand-in: listen on %s: %w", addr, err)
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	// The transport never drops a connection of its own: no idle, read or
	// write timeout ends a kept-alive connection between polls (net/http
	// starts ReadHeaderTimeout only once the next request's first bytes
	// arrive), and every answer, errors and throttling included, is a
	// complete HTTP response on the same connection.
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(countingListener{Listener: ln, s: s}) }()
	return nil
}

// Close stops serving.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	s.closing.Store(true)
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ServeHTTP answers ECS calls on POST / and the stand-in's own controls under
// /standin/.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/standin/stats":
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(s.Stats())
	case "/standin/advance":
		d, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil || r.Method != http.MethodPost {
			http.Error(rw, "POST /standin/advance?by=DURATION (e.g. 30s)", http.StatusBadRequest)
			return
		}
		s.Advance(d)
	case "/standin/scenario":
		var sc Scenario
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sc); err != nil || r.Method != http.MethodPut {
			http.Error(rw, fmt.Sprintf("PUT /standin/scenario with a scenario JSON body: %v", err), http.StatusBadRequest)
			return
		}
		if err := s.SetScenario(sc); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
		}
	default:
		s.serveECS(rw, r)
	}
}

// Clock is the stand-in's clock.
func (s *Server) Clock() *Clock { return s.w.clock }

// Elapsed is the virtual time since the stand-in started, in seconds: the
// time rule and throttle windows (fromSeconds, untilSeconds) count in.
func (s *Server) Elapsed() float64 { return s.w.clock.Now().Sub(s.w.start).Seconds() }

// Advance moves virtual time forward and runs the scheduler up to it.
func (s *Server) Advance(d time.Duration) {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.clock.Advance(d)
	s.w.advance(s.w.clock.Now())
}

// SetScenario replaces the scenario; tasks launched from now on follow it.
func (s *Server) SetScenario(sc Scenario) error {
	if err := sc.validate(); err != nil {
		return err
	}
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.w.scen = sc
	s.w.ruleUses = map[int]int{}
	s.w.bucket = newBucket(sc.ThrottleRate, sc.ThrottleBurst)
	return nil
}

// Stats are what the stand-in counted: calls per operation, throttled calls,
// and each deployment's terminal transition.
type Stats struct {
	Calls       map[string]int `json:"calls"`
	Throttled   int            `json:"throttled"`
	Connections int64          `json:"connections"` // TCP connections accepted
	// ServerClosedConnections counts connections the stand-in closed while
	// the client still held them open; it stays 0 (a client, or its
	// transport, may close its own at any time).
	ServerClosedConnections int64             `json:"serverClosedConnections"`
	Deployments             []DeploymentStats `json:"deployments"`
	// ServiceDeployments are the service deployments, oldest first.
	ServiceDeployments []ServiceDeploymentStats `json:"serviceDeployments"`
}

// ServiceDeploymentStats is one service deployment as the stand-in saw it.
type ServiceDeploymentStats struct {
	ARN     string `json:"arn"`
	Service string `json:"service"`
	Status  string `json:"status"`
	// FinishedAt is the virtual time it reached the Completed stage
	// (SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED);
	// FinishedAtReal the real time the clock showed it (speed > 0 only).
	FinishedAt     time.Time `json:"finishedAt,omitzero"`
	FinishedAtReal time.Time `json:"finishedAtReal,omitzero"`
}

// DeploymentStats is one deployment as the stand-in saw it.
type DeploymentStats struct {
	ID           string `json:"id"`
	Service      string `json:"service"`
	Status       string `json:"status"` // PRIMARY, ACTIVE or INACTIVE
	RolloutState string `json:"rolloutState"`
	// TerminalAt is the virtual time rolloutState left IN_PROGRESS;
	// TerminalAtReal the real time the clock showed it (speed > 0 only).
	TerminalAt     time.Time `json:"terminalAt,omitzero"`
	TerminalAtReal time.Time `json:"terminalAtReal,omitzero"`
}

// Stats returns the counters, after running the scheduler up to now.
func (s *Server) Stats() Stats {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(w.clock.Now())
	st := Stats{Calls: map[string]int{}, Throttled: w.throttled, Connections: s.conns.Load(),
		ServerClosedConnections: s.serverClosed.Load()}
	for k, v := range w.calls {
		st.Calls[k] = v
	}
	for _, c := range w.clusters {
		for _, svc := range c.services {
			seen := map[string]bool{}
			for _, d := range append(append(append([]*deployment{}, svc.deployments...), svc.completed...), svc.inactive...) {
				if seen[d.id] {
					continue
				}
				seen[d.id] = true
				ds := DeploymentStats{ID: d.id, Service: svc.name, Status: d.status, RolloutState: d.rollout, TerminalAt: d.terminalAt}
				if !d.terminalAt.IsZero() {
					ds.TerminalAtReal = w.clock.RealTime(d.terminalAt)
				}
				st.Deployments = append(st.Deployments, ds)
			}
		}
	}
	sort.Slice(st.Deployments, func(i, j int) bool { return st.Deployments[i].ID < st.Deployments[j].ID })
	for _, c := range w.sortedClusters() {
		for _, svc := range sortedServices(c) {
			for _, sd := range svc.sdeps {
				ss := ServiceDeploymentStats{ARN: sd.arn, Service: svc.name, Status: sd.status, FinishedAt: sd.finished}
				if !sd.finished.IsZero() {
					ss.FinishedAtReal = w.clock.RealTime(sd.finished)
				}
				st.ServiceDeployments = append(st.ServiceDeployments, ss)
			}
		}
	}
	return st
}

// Config returns an AWS SDK configuration aimed at this server.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("standin", "standin", "")),
	)
}

// Env returns the variables that aim a child process (the deploy command, the
// aws CLI) at this server.
func (s *Server) Env() []string {
	return []string{"AWS_ENDPOINT_URL_ECS=" + s.URL, "AWS_REGION=" + region, "AWS_DEFAULT_REGION=" + region,
		"AWS_ACCESS_KEY_ID=standin", "AWS_SECRET_ACCESS_KEY=standin"}
}
