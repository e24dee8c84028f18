// Package standintest sets up the ECS rollout stand-in for tests of the
// actions: a cluster, services in a known state, and a way to run an action
// as the runner would.
package standintest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
)

// Speed turns a real second into five virtual minutes: a rollout of two
// tasks takes about a quarter of a real second.
const Speed = 300

// Dig is a digest starting with prefix (hex).
func Dig(prefix string) string { return "sha256:" + prefix + strings.Repeat("0", 64-len(prefix)) }

// Repo prefixes the test images.
const Repo = "registry.local/conveyor/"

// World is a stand-in with a cluster "conveyor", for action tests.
type World struct {
	t   *testing.T
	S   *ecsstandin.Server
	API *ecs.Client
	Ctx context.Context
}

// NewWorld starts a stand-in at Speed; throttling is off unless the
// scenario sets it.
func NewWorld(t *testing.T, sc ecsstandin.Scenario) *World {
	t.Helper()
	if sc.ThrottleRate == 0 {
		sc.ThrottleRate = -1
	}
	s, err := ecsstandin.New(ecsstandin.Options{Scenario: sc, Speed: Speed})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	cfg, err := s.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := &World{t: t, S: s, API: ecs.NewFromConfig(cfg), Ctx: ctx}
	if _, err := w.API.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("conveyor")}); err != nil {
		t.Fatal(err)
	}
	return w
}

// Svc shapes a service: behind a load balancer, with the circuit breaker
// (and rollback, unless NoRollback), desired count (default 2).
type Svc struct {
	LB      bool
	Breaker bool
	Desired int32
	// NoRollback turns the breaker's rollback off.
	NoRollback bool
	// Threshold and ResetOnHealthyTask are the breaker's
	// thresholdConfiguration and resetOnHealthyTask (nil: ECS's defaults,
	// BOUNDED_PERCENT 50 and true).
	Threshold          *types.ThresholdConfiguration
	ResetOnHealthyTask *bool
}

// Service registers name's first task definition (container = the short
// name) and creates the service.
func (w *World) Service(name, image string, o Svc) string {
	w.t.Helper()
	short := strings.TrimPrefix(name, "conveyor-")
	td, err := w.API.RegisterTaskDefinition(w.Ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(name), Cpu: aws.String("256"), Memory: aws.String("512"), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String(short), Image: aws.String(image), Essential: aws.Bool(true),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}}},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	in := &ecs.CreateServiceInput{Cluster: aws.String("conveyor"), ServiceName: aws.String(name), TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
		DesiredCount: aws.Int32(o.Desired), LaunchType: types.LaunchTypeFargate,
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: o.Breaker, Rollback: o.Breaker && !o.NoRollback,
				ThresholdConfiguration: o.Threshold, ResetOnHealthyTask: o.ResetOnHealthyTask}}}
	if o.Desired == 0 {
		in.DesiredCount = aws.Int32(2)
	}
	if o.LB {
		in.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/" + short + "/0123456789abcdef"),
			ContainerName: aws.String(short), ContainerPort: aws.Int32(8080)}}
	}
	if _, err := w.API.CreateService(w.Ctx, in); err != nil {
		w.t.Fatal(err)
	}
	return *td.TaskDefinition.TaskDefinitionArn
}

// Settle waits until the service's only deployment has the given state.
func (w *World) Settle(name string, want types.DeploymentRolloutState) {
	w.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, err := w.API.DescribeServices(w.Ctx, &ecs.DescribeServicesInput{Cluster: aws.String("conveyor"), Services: []string{name}})
		if err != nil {
			w.t.Fatal(err)
		}
		if d := out.Services[0].Deployments; len(d) == 1 && d[0].RolloutState == want {
			return
		}
	}
	w.t.Fatalf("service %s never reached %s", name, want)
}

// ServiceDeployments are the service's service deployments, newest first,
// as DescribeServiceDeployments gives them.
func (w *World) ServiceDeployments(name string) []types.ServiceDeployment {
	w.t.Helper()
	var arns []string
	in := &ecs.ListServiceDeploymentsInput{Cluster: aws.String("conveyor"), Service: aws.String(name), MaxResults: aws.Int32(100)}
	for {
		out, err := w.API.ListServiceDeployments(w.Ctx, in)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, b := range out.ServiceDeployments {
			arns = append(arns, aws.ToString(b.ServiceDeploymentArn))
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	var all []types.ServiceDeployment
	for len(arns) > 0 {
		n := min(len(arns), 20)
		out, err := w.API.DescribeServiceDeployments(w.Ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: arns[:n]})
		if err != nil {
			w.t.Fatal(err)
		}
		all = append(all, out.ServiceDeployments...)
		arns = arns[n:]
	}
	return all
}

// WaitServiceDeployment waits until the service's newest service deployment
// has status want, and returns it.
func (w *World) WaitServiceDeployment(name string, want types.ServiceDeploymentStatus) types.ServiceDeployment {
	w.t.Helper()
	var last types.ServiceDeploymentStatus
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if sds := w.ServiceDeployments(name); len(sds) > 0 {
			if last = sds[0].Status; last == want {
				return sds[0]
			}
		}
	}
	w.t.Fatalf("service %s: newest service deployment %s, never %s", name, last, want)
	return types.ServiceDeployment{}
}

// Run is what an action run left behind.
type Run struct {
	Code                 int
	Summary, Out, Log    string
	DescribeServiceCalls int
}

// Action is an action's Run function.
type Action func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) int

// Run runs an action as the runner would: INPUT_* variables, temp
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, the stand-in's endpoint.
func (w *World) Run(action Action, inputs map[string]string) Run {
	w.t.Helper()
	dir := w.t.TempDir()
	env := map[string]string{
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"GITHUB_SHA":    "0123456789abcdef0123456789abcdef01234567",
		"INPUT_CLUSTER": "conveyor", "INPUT_POLL_INTERVAL": "50ms", "INPUT_TIMEOUT": "20s",
		"INPUT_HEALTH_CHECK_TIME": "0s", "INPUT_DEREGISTRATION_DELAY": "0s",
	}
	for _, kv := range w.S.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] = v
	}
	before := w.S.Stats().Calls["DescribeServices"]
	var log bytes.Buffer
	code := action(w.Ctx, nil, func(k string) string { return env[k] }, &log)
	summary, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	out, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	r := Run{Code: code, Summary: string(summary), Out: string(out), Log: log.String(),
		DescribeServiceCalls: w.S.Stats().Calls["DescribeServices"] - before}
	w.t.Logf("exit %d\n--- log\n%s--- summary\n%s", code, r.Log, r.Summary)
	return r
}

// Images is an image map: name, digest, name, digest, ...
func Images(kv ...string) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, fmt.Sprintf("%q:%q", kv[i], Repo+kv[i]+"@"+kv[i+1]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// MustContain fails the test for each want missing from text.
func MustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", what, want)
		}
	}
}
