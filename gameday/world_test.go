package gameday_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	"github.com/conveyor-dev/conveyor/internal/grpclb"
	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/realtask"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
	"github.com/conveyor-dev/conveyor/services/local/provision"
	taskv1 "github.com/conveyor-dev/conveyor/services/proto/taskv1"
)

// The local world's timings, short so a game day takes seconds, in the same
// proportions as production (health checks 10 s × 2 → 1 s × 2;
// deregistration delay 30 s → 3 s; the api's drain window inside it).
const (
	checkInterval = time.Second
	deregDelay    = 3 * time.Second
	cluster       = "conveyor"
	apiService    = "conveyor-api"
	workerService = "conveyor-worker"
	targetGroup   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/conveyor-api/6d0ecf831eec9f09"
)

// release is one version of the three images, pushed and pinned by digest.
type release map[string]string // container name → registry/conveyor/NAME@sha256:…

// releases are built once per test binary: v1, v2 (same code, another
// revision stamp, so another digest) and v3, whose api image is a bad
// release: its config sets CONVEYOR_LISTEN=:9090 while the target group
// checks port 8080.
type releases struct {
	v1, v2, v3 release
	deploy     string // the deploy action built as a command
	registry   string
	err        error
}

var (
	buildOnce sync.Once
	built     releases
	workDir   string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conveyor-gameday-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// images builds and pushes the releases to an in-process OCI registry
// (go-containerregistry's), once.
func images(t *testing.T) releases {
	t.Helper()
	buildOnce.Do(func() { built = buildReleases(t, testenv.RepoRoot(t)) })
	if built.err != nil {
		t.Fatalf("build the releases: %v", built.err)
	}
	return built
}

func buildReleases(t *testing.T, root string) releases {
	var r releases
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	// The registry lives as long as the test binary: every test pulls from it.
	r.registry = strings.TrimPrefix(srv.URL, "http://")
	bins := map[string]string{}
	for _, cmd := range []string{"build-push", "deploy"} {
		bins[cmd] = filepath.Join(workDir, cmd)
		c := exec.Command("go", "build", "-o", bins[cmd], "./actions/"+cmd)
		c.Dir = root
		if out, err := c.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build ./actions/%s: %v\n%s", cmd, err, out)
			return r
		}
	}
	r.deploy = bins["deploy"]
	// The build-push action, as the pipeline runs it, for this machine's
	// platform only (the tasks run here).
	push := func(rev string) (release, error) {
		start := time.Now()
		c := exec.Command(bins["build-push"], "--repository-prefix", r.registry+"/conveyor", "--platforms", runtime.GOOS+"/"+runtime.GOARCH,
			"--revision", rev, "--source-date-epoch", "1767225600", "--working-directory", root, "--registry-auth", "docker")
		c.Env = append(os.Environ(), "GITHUB_OUTPUT="+filepath.Join(workDir, rev+".output"), "GITHUB_STEP_SUMMARY="+filepath.Join(workDir, rev+".md"))
		if out, err := c.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build-push %s: %v\n%s", rev, err, out)
		}
		out := release{}
		for _, svc := range catalog.Names() {
			ref, err := name.ParseReference(r.registry + "/conveyor/" + svc + ":" + rev)
			if err != nil {
				return nil, err
			}
			desc, err := remote.Head(ref)
			if err != nil {
				return nil, fmt.Errorf("build-push %s did not push %s: %w", rev, ref, err)
			}
			out[svc] = r.registry + "/conveyor/" + svc + "@" + desc.Digest.String()
		}
		t.Logf("built and pushed %s in %s: %v", rev, time.Since(start).Round(time.Millisecond), out)
		return out, nil
	}
	var err error
	if r.v1, err = push("v1"); err != nil {
		r.err = err
		return r
	}
	if r.v2, err = push("v2"); err != nil {
		r.err = err
		return r
	}
	r.v3 = release{}
	for k, v := range r.v2 {
		r.v3[k] = v
	}
	if r.v3["api"], err = badRelease(r.registry, r.v2["api"]); err != nil {
		r.err = err
	}
	return r
}

// badRelease is the v2 api image with CONVEYOR_LISTEN=:9090 in its config:
// it starts and serves, but not on the port the target group checks.
func badRelease(reg, v2 string) (string, error) {
	ref, err := name.ParseReference(v2)
	if err != nil {
		return "", err
	}
	p := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	good, err := remote.Image(ref, remote.WithPlatform(p))
	if err != nil {
		return "", fmt.Errorf("pull %s: %w", v2, err)
	}
	cf, err := good.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.Config.Env = append(cf.Config.Env, "CONVEYOR_LISTEN=:9090")
	img, err := mutate.ConfigFile(good, cf)
	if err != nil {
		return "", err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, ggcrtypes.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	tag, err := name.ParseReference(reg + "/conveyor/api:v3")
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(tag, idx); err != nil {
		return "", fmt.Errorf("push the bad v3 api: %w", err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return reg + "/conveyor/api@" + d.String(), nil
}

// world is one game day's local world: moto with the table and queues, the
// ECS stand-in running real tasks, and the gRPC balancer in front of the api.
type world struct {
	t       *testing.T
	ctx     context.Context
	rel     releases
	env     []string // the services' data plane: table and queue names
	standin *ecsstandin.Server
	ecs     *ecs.Client
	tasks   *realtask.Launcher
	lb      *grpclb.LB
	client  taskv1.TaskServiceClient
	started time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	if testing.Short() {
		t.Skip("game day runs real service processes against moto; skipped under -short")
	}
	rel := images(t)
	moto := motoserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := moto.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := provision.Create(ctx, cfg, provision.UniqueName(t.Name()), provision.Options{VisibilityTimeout: 10 * time.Second, MaxReceiveCount: 5})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, rel: rel, env: data.Env(), started: time.Now()}
	w.lb = grpclb.New(grpclb.TargetGroup{Name: "conveyor-api", Interval: checkInterval, Timeout: 800 * time.Millisecond,
		HealthyThreshold: 2, UnhealthyThreshold: 2, DeregistrationDelay: deregDelay})
	if err := w.lb.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.lb.Close() })
	w.tasks, err = realtask.New(realtask.Options{TargetGroups: map[string]*grpclb.LB{targetGroup: w.lb}, Env: moto.Env(),
		Dir: t.TempDir(), SteadyAfter: time.Second, Logf: w.logf, Tick: func() { w.standin.Advance(0) }})
	if err != nil {
		t.Fatal(err)
	}
	w.standin, err = ecsstandin.New(ecsstandin.Options{Speed: 1, Launcher: w.tasks,
		Scenario: ecsstandin.Scenario{DeregistrationSeconds: deregDelay.Seconds(), ThrottleRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.standin.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: tasks die before the stand-in closes.
	t.Cleanup(func() { w.standin.Close() })
	t.Cleanup(w.tasks.Close)
	ecfg, err := w.standin.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.ecs = ecs.NewFromConfig(ecfg)
	w.tasks.SetECS(w.ecs)
	go w.tasks.Run(ctx, 250*time.Millisecond)
	conn, err := grpc.NewClient("passthrough:///"+w.lb.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	w.client = taskv1.NewTaskServiceClient(conn)
	if _, err := w.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) logf(format string, args ...any) {
	w.t.Logf("%6.2fs "+format, append([]any{time.Since(w.started).Seconds()}, args...)...)
}

// kv is a task definition environment variable.
func kv(env []string) []types.KeyValuePair {
	var out []types.KeyValuePair
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		out = append(out, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
	}
	return out
}

// deployment is each service's rolling-update configuration, as
// infra/environments/production/variables.tf sets it by default: the api at
// minimum healthy 100 % (a deploy never runs it on fewer tasks than its
// count), worker and dlq at the designed 50 %; maximum 200 % for all.
var deployment = map[string]struct{ minPct, maxPct int32 }{
	"api":    {100, 200},
	"worker": {50, 200},
	"dlq":    {50, 200},
}

// service registers the first task definition of a service and creates it:
// the rolling update of deployment[ctr], circuit breaker with rollback.
func (w *world) service(svc, ctr, img string, desired int32, env ...string) {
	w.t.Helper()
	def := types.ContainerDefinition{Name: aws.String(ctr), Image: aws.String(img), Essential: aws.Bool(true),
		Environment: kv(append(append([]string{}, w.env...), env...))}
	spec, err := catalog.Lookup(ctr)
	if err != nil {
		w.t.Fatal(err)
	}
	var lbs []types.LoadBalancer
	if spec.Port != 0 {
		def.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(spec.Port), Protocol: types.TransportProtocolTcp}}
		lbs = []types.LoadBalancer{{TargetGroupArn: aws.String(targetGroup), ContainerName: aws.String(ctr), ContainerPort: aws.Int32(spec.Port)}}
	}
	// Stop timeouts shorter than production's keep the game days quick;
	// the drain logic is the same at any length.
	switch ctr {
	case "api":
		def.StopTimeout = aws.Int32(10)
	case "worker":
		def.StopTimeout = aws.Int32(20)
	}
	td, err := w.ecs.RegisterTaskDefinition(w.ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String(svc),
		ContainerDefinitions: []types.ContainerDefinition{def}, NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		Cpu:                     aws.String(strconv.Itoa(spec.CPU)), Memory: aws.String(strconv.Itoa(spec.Memory))})
	if err != nil {
		w.t.Fatalf("register task definition %s: %v", svc, err)
	}
	_, err = w.ecs.CreateService(w.ctx, &ecs.CreateServiceInput{Cluster: aws.String(cluster), ServiceName: aws.String(svc),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(desired), LaunchType: types.LaunchTypeFargate,
		LoadBalancers: lbs, HealthCheckGracePeriodSeconds: grace(lbs),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(deployment[ctr].minPct), MaximumPercent: aws.Int32(deployment[ctr].maxPct),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}})
	if err != nil {
		w.t.Fatalf("create service %s: %v", svc, err)
	}
}

// grace is the health check grace period: production's 60 s is six check
// intervals, and so is this.
func grace(lbs []types.LoadBalancer) *int32 {
	if len(lbs) == 0 {
		return nil
	}
	return aws.Int32(int32(6 * checkInterval / time.Second))
}

// apiEnv and workerEnv shorten the services' drain timings to the world's:
// the api drains for 2 s of the 3 s deregistration delay, the worker gets
// 12 s of its 20 s stopTimeout for in-flight tasks.
var (
	apiEnv    = []string{"CONVEYOR_DRAIN_WINDOW=2s", "CONVEYOR_STOP_TIMEOUT=3s"}
	workerEnv = []string{"CONVEYOR_WAIT_TIME=1s", "CONVEYOR_VISIBILITY_TIMEOUT=10s", "CONVEYOR_CONCURRENCY=4",
		"CONVEYOR_STOP_BUDGET=12s", "CONVEYOR_RETRY_DELAY=1s"}
)

// steady waits until every service's PRIMARY deployment is COMPLETED with
// the desired count running, and the balancer has that many healthy api
// targets; it returns how long that took.
func (w *world) steady(timeout time.Duration, svcs ...string) time.Duration {
	w.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		out, err := w.ecs.DescribeServices(w.ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: svcs})
		if err != nil {
			w.t.Fatal(err)
		}
		ok := len(out.Services) == len(svcs)
		var parts []string
		for _, s := range out.Services {
			p := s.Deployments[0]
			parts = append(parts, fmt.Sprintf("%s: %s %d/%d running, %d deployments", aws.ToString(s.ServiceName), p.RolloutState, s.RunningCount, s.DesiredCount, len(s.Deployments)))
			if p.RolloutState != types.DeploymentRolloutStateCompleted || s.RunningCount != s.DesiredCount || len(s.Deployments) != 1 {
				ok = false
			}
			if aws.ToString(s.ServiceName) == apiService && w.lb.HealthyCount() != int(s.DesiredCount) {
				ok = false
				parts = append(parts, fmt.Sprintf("%d healthy targets", w.lb.HealthyCount()))
			}
		}
		last = strings.Join(parts, "; ")
		if ok {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.t.Fatalf("services not steady after %s: %s", timeout, last)
	return 0
}

// deploy runs the deploy action as a command against the stand-in, as the
// GitHub job would, and returns its exit code and output.
func (w *world) deploy(images map[string]string, sha string, svcs ...string) (int, string) {
	w.t.Helper()
	m, _ := json.Marshal(images)
	dir := w.t.TempDir()
	cmd := exec.CommandContext(w.ctx, w.rel.deploy, "--image-map", string(m), "--cluster", cluster,
		"--services", strings.Join(svcs, ","), "--timeout", "3m", "--poll-interval", "1s", "--git-sha", sha,
		"--health-check-time", "2s", "--deregistration-delay", deregDelay.String())
	cmd.Env = append(w.standin.Env(), "PATH="+os.Getenv("PATH"), "HOME="+dir,
		"GITHUB_OUTPUT="+filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary.md"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("run deploy: %v", err)
		}
		code = ee.ExitCode()
	}
	summary, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	w.logf("deploy %v exited %d after %s\n%s\n--- step summary ---\n%s", images, code, time.Since(start).Round(time.Millisecond), out.String(), summary)
	return code, out.String() + "\n" + string(summary)
}
