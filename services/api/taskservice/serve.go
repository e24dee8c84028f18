package taskservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/conveyor-dev/conveyor/services/internal/config"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// Config is the api's configuration.
type Config struct {
	Table       string        // CONVEYOR_TABLE
	QueueURL    string        // CONVEYOR_QUEUE_URL
	Listen      string        // CONVEYOR_LISTEN, default :8080
	DrainWindow time.Duration // CONVEYOR_DRAIN_WINDOW, default 15s: NOT_SERVING but still serving, so the ALB stops routing first
	StopTimeout time.Duration // CONVEYOR_STOP_TIMEOUT, default 10s: GracefulStop's hard deadline; drain + stop stay inside ECS's 30 s stopTimeout
}

// ConfigFromEnv reads the api's configuration.
func ConfigFromEnv(getenv config.Getenv) (Config, error) {
	r := config.NewReader(getenv)
	c := Config{
		Table:       r.Required("CONVEYOR_TABLE"),
		QueueURL:    r.Required("CONVEYOR_QUEUE_URL"),
		Listen:      r.String("CONVEYOR_LISTEN", ":8080"),
		DrainWindow: r.Duration("CONVEYOR_DRAIN_WINDOW", 15*time.Second, 0, 10*time.Minute),
		StopTimeout: r.Duration("CONVEYOR_STOP_TIMEOUT", 10*time.Second, 0, 10*time.Minute),
	}
	return c, r.Err()
}

// MaxRecvMsgSize bounds a request on the wire: the largest payload plus room
// for the other fields. Bigger requests fail with RESOURCE_EXHAUSTED before
// any handler runs.
const MaxRecvMsgSize = MaxPayload + 16<<10

// MaxConcurrentStreams bounds the calls in flight on one connection.
const MaxConcurrentStreams = 256

// HealthService is the name the TaskService's health status is kept under,
// besides the whole server's "".
const HealthService = "conveyor.task.v1.TaskService"

// Health is grpc.health.v1 where anything but SERVING answers with the
// UNAVAILABLE code instead of OK with a NOT_SERVING body: the ALB's health
// check reads only the gRPC status code.
type Health struct {
	*health.Server
}

// Check answers SERVING with OK and everything else with UNAVAILABLE.
func (h Health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := h.Server.Check(ctx, req)
	if err != nil {
		return nil, err
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return nil, status.Errorf(codes.Unavailable, "service %q is %s", req.Service, resp.Status)
	}
	return resp, nil
}

// NewGRPCServer returns a gRPC server with the TaskService, health and
// reflection registered, all statuses SERVING.
func NewGRPCServer(svc taskv1.TaskServiceServer) (*grpc.Server, *health.Server) {
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxRecvMsgSize),
		// Calls at once per connection: a client (or the ALB's pooled
		// connection) that floods one connection queues instead of
		// piling up work.
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.ForceServerCodec(codec{}),
	)
	taskv1.RegisterTaskServiceServer(gs, svc)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(HealthService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, Health{hs})
	reflection.Register(gs)
	return gs, hs
}

// Serve runs gs on lis until ctx ends, then shuts down as the ALB needs:
// health NOT_SERVING at once, keep serving through the drain window, then
// GracefulStop, forced to Stop after the stop timeout.
func Serve(ctx context.Context, lis net.Listener, gs *grpc.Server, hs *health.Server, c Config, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(lis) }()
	log.Info("serving", "addr", lis.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve gRPC on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}
	hs.Shutdown()
	log.Info("shutdown: health is NOT_SERVING, draining", "drain_window", c.DrainWindow.String())
	time.Sleep(c.DrainWindow)

	log.Info("shutdown: graceful stop", "stop_timeout", c.StopTimeout.String())
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
		log.Info("shutdown: every call finished")
	case <-time.After(c.StopTimeout):
		log.Warn("shutdown: calls still running after the stop timeout; cutting them off", "stop_timeout", c.StopTimeout.String())
		gs.Stop()
		<-stopped
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve gRPC on %s: %w", lis.Addr(), err)
	}
	return nil
}
