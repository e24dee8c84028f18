package realtask_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	"github.com/conveyor-dev/conveyor/internal/realtask"
)

// shellImage pushes an image whose entrypoint is this machine's /bin/sh
// running script, to an in-process registry, and returns it pinned by digest.
func shellImage(t *testing.T, reg, repo, script string) string {
	t.Helper()
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh to put in the test image: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "bin/sh", Mode: 0o755, Size: int64(len(sh)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(sh)
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = runtime.GOOS, runtime.GOARCH
	cf.Config.Entrypoint = []string{"/bin/sh", "-c"}
	cf.Config.Cmd = []string{script}
	cf.Config.Env = []string{"FROM_IMAGE=image", "OVERRIDDEN=image"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg + "/" + repo + ":test")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return reg + "/" + repo + "@" + d.String()
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	reg   string
	l     *realtask.Launcher
	ecs   *ecs.Client
	dir   string
	lines chan string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	f := &fixture{t: t, ctx: context.Background(), reg: strings.TrimPrefix(srv.URL, "http://"), dir: t.TempDir(), lines: make(chan string, 100)}
	var err error
	var s *ecsstandin.Server
	f.l, err = realtask.New(realtask.Options{Dir: f.dir, Env: []string{"WORLD=local", "OVERRIDDEN=world"}, SteadyAfter: 200 * time.Millisecond,
		Logf: func(format string, args ...any) { t.Logf(format, args...) }, Tick: func() { s.Advance(0) }})
	if err != nil {
		t.Fatal(err)
	}
	s, err = ecsstandin.New(ecsstandin.Options{Speed: 1, Launcher: f.l, Scenario: ecsstandin.Scenario{ThrottleRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	t.Cleanup(f.l.Close)
	cfg, err := s.Config(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.ecs = ecs.NewFromConfig(cfg)
	f.l.SetECS(f.ecs)
	ctx, cancel := context.WithCancel(f.ctx)
	t.Cleanup(cancel)
	go f.l.Run(ctx, 100*time.Millisecond)
	if _, err := f.ecs.CreateCluster(f.ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) service(name, img string, desired int32, stopTimeout int32, env ...types.KeyValuePair) {
	f.t.Helper()
	td, err := f.ecs.RegisterTaskDefinition(f.ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String(name),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("main"), Image: aws.String(img), Essential: aws.Bool(true),
			StopTimeout: aws.Int32(stopTimeout), Environment: env}}})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.ecs.CreateService(f.ctx, &ecs.CreateServiceInput{Cluster: aws.String("c"), ServiceName: aws.String(name),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(desired),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200)}}); err != nil {
		f.t.Fatal(err)
	}
}

// running waits until the launcher has n running tasks of svc.
func (f *fixture) running(svc string, n int) []realtask.TaskInfo {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got []realtask.TaskInfo
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, ti := range f.l.Tasks() {
			if ti.Service == svc && ti.State == "RUNNING" {
				got = append(got, ti)
			}
		}
		if len(got) == n {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("%d running tasks of %s, want %d: %+v", len(got), svc, n, f.l.Tasks())
	return nil
}

func (f *fixture) stopped(svc string) []types.Task {
	f.t.Helper()
	lt, err := f.ecs.ListTasks(f.ctx, &ecs.ListTasksInput{Cluster: aws.String("c"), ServiceName: aws.String(svc), DesiredStatus: types.DesiredStatusStopped})
	if err != nil || len(lt.TaskArns) == 0 {
		return nil
	}
	dt, err := f.ecs.DescribeTasks(f.ctx, &ecs.DescribeTasksInput{Cluster: aws.String("c"), Tasks: lt.TaskArns})
	if err != nil {
		f.t.Fatal(err)
	}
	var out []types.Task
	for _, tk := range dt.Tasks {
		if aws.ToString(tk.LastStatus) == "STOPPED" {
			out = append(out, tk)
		}
	}
	return out
}

func TestTasksRunTheImageWithTheTaskDefinitionEnvironmentSpreadOverTwoAZs(t *testing.T) {
	f := newFixture(t)
	out := f.dir + "/env-"
	img := shellImage(t, f.reg, "envdump", `env > "`+out+`$$"; exec sleep 60`)
	f.service("envdump", img, 2, 5, types.KeyValuePair{Name: aws.String("FROM_TASKDEF"), Value: aws.String("taskdef")},
		types.KeyValuePair{Name: aws.String("OVERRIDDEN"), Value: aws.String("taskdef")})
	tasks := f.running("envdump", 2)
	if tasks[0].AZ == tasks[1].AZ {
		t.Errorf("both tasks placed in %s, want one per AZ", tasks[0].AZ)
	}
	for _, ti := range tasks {
		var env []byte
		for i := 0; i < 50 && len(env) == 0; i++ {
			env, _ = os.ReadFile(out + strconv.Itoa(ti.Pid))
			time.Sleep(20 * time.Millisecond)
		}
		for _, want := range []string{"FROM_IMAGE=image", "FROM_TASKDEF=taskdef", "WORLD=local", "OVERRIDDEN=world", "ECS_AVAILABILITY_ZONE=" + ti.AZ} {
			if !strings.Contains(string(env), want+"\n") {
				t.Errorf("task %s environment lacks %s:\n%s", ti.Arn, want, env)
			}
		}
	}
	// The image was pulled and extracted once, by digest.
	entries, _ := os.ReadDir(f.dir + "/bin")
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "sha256-") {
		t.Errorf("binary cache %v, want one sha256-… directory", entries)
	}
}

func TestStopSendsSIGTERMThenSIGKILLAfterStopTimeout(t *testing.T) {
	f := newFixture(t)
	polite := shellImage(t, f.reg, "polite", `trap 'exit 0' TERM; while :; do sleep 0.1; done`)
	stubborn := shellImage(t, f.reg, "stubborn", `trap '' TERM; while :; do sleep 0.1; done`)
	f.service("polite", polite, 1, 30)
	f.service("stubborn", stubborn, 1, 2)
	f.running("polite", 1)
	f.running("stubborn", 1)
	// A new deployment replaces each task: the old one is stopped.
	for _, svc := range []string{"polite", "stubborn"} {
		if _, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String(svc), ForceNewDeployment: true}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int32{"polite": 0, "stubborn": 137}
	deadline := time.Now().Add(20 * time.Second)
	for svc, code := range want {
		for {
			st := f.stopped(svc)
			if len(st) == 1 && len(st[0].Containers) == 1 && st[0].Containers[0].ExitCode != nil {
				if got := *st[0].Containers[0].ExitCode; got != code {
					t.Errorf("%s exited %d, want %d", svc, got, code)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no stopped task with an exit code yet", svc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func TestLosingAnAZKillsItsTasksAndTheServiceRecoversInTheOther(t *testing.T) {
	f := newFixture(t)
	img := shellImage(t, f.reg, "sleeper", `exec sleep 60`)
	f.service("sleeper", img, 2, 5)
	f.running("sleeper", 2)
	killed := f.l.FailAZ("us-east-1b", "test")
	if len(killed) != 1 {
		t.Fatalf("killed %v, want the one task in us-east-1b", killed)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := f.stopped("sleeper")
		if len(st) == 1 {
			if c := st[0].Containers[0]; c.ExitCode == nil || *c.ExitCode != 137 || !strings.Contains(aws.ToString(st[0].StoppedReason), "us-east-1b lost") {
				t.Errorf("stopped task: exit %v, reason %q; want 137 and the AZ loss", c.ExitCode, aws.ToString(st[0].StoppedReason))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed task never showed as STOPPED")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, ti := range f.running("sleeper", 2) {
		if ti.AZ != "us-east-1a" {
			t.Errorf("task %s placed in %s while us-east-1b is down", ti.Arn, ti.AZ)
		}
	}
}
