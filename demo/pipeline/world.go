package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-containerregistry/pkg/registry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	"github.com/conveyor-dev/conveyor/internal/grpclb"
	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/realtask"
	"github.com/conveyor-dev/conveyor/internal/taskload"
	"github.com/conveyor-dev/conveyor/services/catalog"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// world is the local world the pipeline deploys to.
type world struct {
	p        *pipeline
	moto     *motoserver.Server
	motoCfg  aws.Config
	registry string // host:port of the OCI registry
	standin  *ecsstandin.Server
	ecs      *ecs.Client // the stand-in
	tasks    *realtask.Launcher
	tgs      map[string]*grpclb.LB
	lb       *grpclb.LB
	client   taskv1.TaskServiceClient
}

func startWorld(ctx context.Context, p *pipeline) (*world, error) {
	w := &world{p: p, tgs: map[string]*grpclb.LB{}}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, fmt.Errorf("moto_server not found on PATH: install it with `pip install \"moto[server]\"`")
	}
	if w.moto, err = motoserver.Launch(ctx, bin); err != nil {
		return nil, err
	}
	p.onCleanup(w.moto.Stop)
	if w.motoCfg, err = w.moto.Config(ctx); err != nil {
		return nil, err
	}
	p.logf("moto          %s", w.moto.URL)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	reg := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = reg.Serve(ln) }()
	p.onCleanup(func() { reg.Close() })
	w.registry = ln.Addr().String()
	p.logf("OCI registry  %s (go-containerregistry, in-process)", w.registry)

	var standin *ecsstandin.Server
	w.tasks, err = realtask.New(realtask.Options{TargetGroups: w.tgs, Env: w.moto.Env(), Dir: filepath.Join(p.dir, "tasks"),
		Logf: func(format string, args ...any) { p.logf("task: "+format, args...) }, Tick: func() { standin.Advance(0) }})
	if err != nil {
		return nil, err
	}
	if standin, err = ecsstandin.New(ecsstandin.Options{Speed: 1, Launcher: w.tasks,
		Scenario: ecsstandin.Scenario{ThrottleRate: -1}}); err != nil {
		return nil, err
	}
	w.standin = standin
	if err := standin.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	p.onCleanup(func() { standin.Close() })
	p.onCleanup(w.tasks.Close) // runs before the stand-in closes
	cfg, err := standin.Config(ctx)
	if err != nil {
		return nil, err
	}
	w.ecs = ecs.NewFromConfig(cfg)
	w.tasks.SetECS(w.ecs)
	runCtx, cancel := context.WithCancel(ctx)
	p.onCleanup(cancel)
	go w.tasks.Run(runCtx, 250*time.Millisecond)
	p.logf("ECS stand-in  %s (real tasks from the pushed images, AZs %s)", standin.URL, strings.Join(realtask.DefaultAZs, ", "))
	return w, nil
}

// createServices is the first deployment: the task definitions and services
// Terraform registered in moto, created in the ECS stand-in with the
// release's images, and the api's target group served by the local balancer
// with the timings Terraform gave it (scaled by -time-scale).
func (w *world) createServices(ctx context.Context, out outputs, r release) error {
	mecs := ecs.NewFromConfig(w.motoCfg)
	var names []string
	for _, k := range catalog.Names() {
		names = append(names, out.Services[k])
	}
	ds, err := mecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(out.Cluster), Services: names})
	if err != nil {
		return fmt.Errorf("read the applied services from moto: %w", err)
	}
	if len(ds.Services) != len(names) {
		return fmt.Errorf("moto has %d of the services %v that Terraform applied", len(ds.Services), names)
	}
	if _, err := w.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(out.Cluster)}); err != nil {
		return err
	}
	for _, s := range ds.Services {
		td, err := mecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
		if err != nil {
			return fmt.Errorf("read task definition %s from moto: %w", aws.ToString(s.TaskDefinition), err)
		}
		defs := td.TaskDefinition.ContainerDefinitions
		for i := range defs {
			img, ok := r[aws.ToString(defs[i].Name)]
			if !ok {
				return fmt.Errorf("task definition %s: no image built for container %s", aws.ToString(s.TaskDefinition), aws.ToString(defs[i].Name))
			}
			defs[i].Image = aws.String(img)
		}
		set := out.Settings[aws.ToString(s.ServiceName)]
		grace := set.grace
		for _, l := range s.LoadBalancers {
			lb, err := w.targetGroup(ctx, aws.ToString(l.TargetGroupArn))
			if err != nil {
				return err
			}
			// The api's drain window sits inside the deregistration delay.
			for i := range defs {
				if aws.ToString(defs[i].Name) == aws.ToString(l.ContainerName) {
					defs[i].Environment = append(defs[i].Environment,
						ecstypes.KeyValuePair{Name: aws.String("CONVEYOR_DRAIN_WINDOW"), Value: aws.String((lb.TargetGroup().DeregistrationDelay * 2 / 3).String())})
				}
			}
			if grace != nil {
				grace = aws.Int32(max(1, int32(float64(*grace)*w.p.scale)))
			}
		}
		reg, err := w.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: td.TaskDefinition.Family,
			ContainerDefinitions: defs, Cpu: td.TaskDefinition.Cpu, Memory: td.TaskDefinition.Memory,
			NetworkMode: td.TaskDefinition.NetworkMode, RequiresCompatibilities: td.TaskDefinition.RequiresCompatibilities,
			TaskRoleArn: td.TaskDefinition.TaskRoleArn, ExecutionRoleArn: td.TaskDefinition.ExecutionRoleArn})
		if err != nil {
			return fmt.Errorf("register %s in the stand-in: %w", aws.ToString(td.TaskDefinition.Family), err)
		}
		dc := &ecstypes.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(set.minPct), MaximumPercent: aws.Int32(set.maxPct),
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: set.breaker, Rollback: set.rollback}}
		if set.maxPct == 0 {
			return fmt.Errorf("service %s is not in the Terraform state as an aws_ecs_service", aws.ToString(s.ServiceName))
		}
		if _, err := w.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(out.Cluster), ServiceName: s.ServiceName,
			TaskDefinition: reg.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(s.DesiredCount), LaunchType: ecstypes.LaunchTypeFargate,
			LoadBalancers: s.LoadBalancers, DeploymentConfiguration: dc, HealthCheckGracePeriodSeconds: grace,
			NetworkConfiguration: s.NetworkConfiguration}); err != nil {
			return fmt.Errorf("create service %s in the stand-in: %w", aws.ToString(s.ServiceName), err)
		}
		cb := dc.DeploymentCircuitBreaker
		w.p.logf("%s: %d tasks of %s, min %d%% / max %d%%, circuit breaker %v (rollback %v), grace period %ds", aws.ToString(s.ServiceName), s.DesiredCount,
			aws.ToString(reg.TaskDefinition.TaskDefinitionArn)[strings.LastIndex(aws.ToString(reg.TaskDefinition.TaskDefinitionArn), "/")+1:],
			aws.ToInt32(dc.MinimumHealthyPercent), aws.ToInt32(dc.MaximumPercent), cb.Enable, cb.Rollback, aws.ToInt32(grace))
	}
	if w.lb == nil {
		return fmt.Errorf("no applied service has a load balancer: the api should sit behind the target group")
	}
	conn, err := grpc.NewClient("passthrough:///"+w.lb.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	w.p.onCleanup(func() { conn.Close() })
	w.client = taskv1.NewTaskServiceClient(conn)
	return w.steady(ctx, out, 5*time.Minute)
}

// targetGroup starts the local balancer for a target group Terraform made.
func (w *world) targetGroup(ctx context.Context, arn string) (*grpclb.LB, error) {
	if lb := w.tgs[arn]; lb != nil {
		return lb, nil
	}
	c := elbv2.NewFromConfig(w.motoCfg)
	out, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
	if err != nil || len(out.TargetGroups) == 0 {
		return nil, fmt.Errorf("read target group %s from moto: %v", arn, err)
	}
	g := out.TargetGroups[0]
	scale := func(sec *int32, def int32) time.Duration {
		v := def
		if sec != nil && *sec > 0 {
			v = *sec
		}
		return time.Duration(float64(v) * w.p.scale * float64(time.Second))
	}
	tg := grpclb.TargetGroup{Name: aws.ToString(g.TargetGroupName), Interval: scale(g.HealthCheckIntervalSeconds, 30),
		Timeout: scale(g.HealthCheckTimeoutSeconds, 5), HealthyThreshold: int(aws.ToInt32(g.HealthyThresholdCount)),
		UnhealthyThreshold: int(aws.ToInt32(g.UnhealthyThresholdCount)), DeregistrationDelay: scale(nil, 300)}
	if g.Matcher != nil && g.Matcher.GrpcCode != nil {
		if tg.Matcher, err = grpclb.ParseMatcher(*g.Matcher.GrpcCode); err != nil {
			return nil, err
		}
	}
	attrs, err := c.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(arn)})
	if err == nil {
		for _, a := range attrs.Attributes {
			if aws.ToString(a.Key) == "deregistration_delay.timeout_seconds" {
				if n, err := strconv.Atoi(aws.ToString(a.Value)); err == nil {
					tg.DeregistrationDelay = scale(aws.Int32(int32(n)), 300)
				}
			}
		}
	}
	lb := grpclb.New(tg)
	if err := lb.Listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	w.p.onCleanup(func() { lb.Close() })
	w.tgs[arn] = lb
	w.lb = lb
	tg = lb.TargetGroup()
	w.p.logf("gRPC load balancer %s for target group %s: checks every %s (timeout %s), healthy after %d, unhealthy after %d, codes %v, deregistration delay %s",
		lb.Addr(), tg.Name, tg.Interval, tg.Timeout, tg.HealthyThreshold, tg.UnhealthyThreshold, tg.Matcher, tg.DeregistrationDelay)
	return lb, nil
}

// steady waits until every service's deployment completed with all its
// tasks running, printing progress as it changes.
func (w *world) steady(ctx context.Context, out outputs, timeout time.Duration) error {
	var names []string
	for _, k := range catalog.Names() {
		names = append(names, out.Services[k])
	}
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ds, err := w.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(out.Cluster), Services: names})
		if err != nil {
			return err
		}
		done := true
		var parts []string
		for _, s := range ds.Services {
			d := s.Deployments[0]
			parts = append(parts, fmt.Sprintf("%s %d/%d %s", aws.ToString(s.ServiceName), s.RunningCount, s.DesiredCount, d.RolloutState))
			if d.RolloutState != ecstypes.DeploymentRolloutStateCompleted || s.RunningCount != s.DesiredCount {
				done = false
			}
		}
		line := strings.Join(parts, ", ") + fmt.Sprintf("; %d healthy api targets", w.lb.HealthyCount())
		if line != last {
			w.p.logf("%s", line)
			last = line
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("services not steady after %s: %s (task logs: %s)", timeout, line, filepath.Join(w.p.dir, "tasks", "logs"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// batch submits n tasks of every built-in kind and follows them to the end.
func (w *world) batch(ctx context.Context, n int) error {
	kinds := []struct{ kind, payload string }{{"echo", "hello conveyor"}, {"sleep", "2s"}, {"hash", "1000:conveyor"}, {"fail", "on purpose"}}
	var ids []string
	what := map[string]string{}
	for i := 0; i < n; i++ {
		k := kinds[i%len(kinds)]
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		r, err := w.client.SubmitTask(cctx, &taskv1.SubmitTaskRequest{IdempotencyKey: fmt.Sprintf("demo-batch-%d-%d", time.Now().Unix(), i),
			Type: k.kind, Payload: []byte(k.payload)})
		cancel()
		if err != nil {
			return fmt.Errorf("submit %s task through the load balancer %s: %w", k.kind, w.lb.Addr(), err)
		}
		ids = append(ids, r.GetTask().GetTaskId())
		what[r.GetTask().GetTaskId()] = k.kind + " " + k.payload
	}
	w.p.logf("submitted %d tasks through %s", len(ids), w.lb.Addr())
	o := taskload.Settle(ctx, w.client, ids, 2*time.Minute)
	for _, id := range ids {
		t := o.Tasks[id]
		line := fmt.Sprintf("%-36s %-24s %s", id, what[id], strings.TrimPrefix(t.GetStatus().String(), "TASK_STATUS_"))
		if t.GetError() != "" {
			line += " (" + t.GetError() + ")"
		} else if len(t.GetResult()) > 0 {
			line += fmt.Sprintf(" → %.40q", t.GetResult())
		}
		w.p.logf("%s", line)
	}
	w.p.logf("%s", o)
	if len(o.Open) > 0 {
		return fmt.Errorf("%d tasks did not finish", len(o.Open))
	}
	return nil
}

// startLoad submits echo tasks through the load balancer at a steady rate,
// without retries.
func (w *world) startLoad(ctx context.Context, clients int, period time.Duration) *taskload.Load {
	return taskload.Start(ctx, w.client, taskload.Options{Clients: clients, Period: period, Type: "echo", Payload: "under load", KeyPrefix: "demo-load"})
}
