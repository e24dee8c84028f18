// Command deployscore is the deploy benchmark's scorecard: conveyor's
// deploy action and `aws ecs update-service` + `aws ecs wait
// services-stable` (the AWS CLI's waiter, what many pipelines use) run on
// the same adversarial scenarios against the ECS rollout stand-in, one fresh
// stand-in per run. For each run it reports whether the tool told the truth
// (conveyor: the expected verdict; the waiter: exit 0 exactly when the
// release really runs), the time from ECS's terminal state (the last
// service deployment's finish) to the tool's exit, and the reads spent.
//
// Usage (bench/deploy.sh builds the deploy binary):
//
//	go run ./bench/deployscore -deploy /path/to/deploy [-speed 20] [-poll 1s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
)

const repo = "registry.local/conveyor/api"

func digest(p string) string { return "sha256:" + p + strings.Repeat("0", 64-len(p)) }

var readOps = []string{"DescribeServices", "ListServiceDeployments", "DescribeServiceDeployments", "DescribeServiceRevisions", "ListTasks", "DescribeTasks"}

type scenario struct {
	name string
	// throttled: ECS cannot be read for a while, so the lag measures the
	// throttling, not the watcher; it is left out of the median.
	throttled bool
	// want are the verdicts that tell the truth; works says whether the
	// release really runs at the end (what a CI gate's exit code means).
	want   []string
	works  bool
	rules  []ecsstandin.Rule
	digest string
	// rollbackOff turns the breaker's rollback off; noBreaker the breaker.
	rollbackOff, noBreaker bool
	// after installs what changes once the service settled, at the given
	// virtual seconds since the stand-in started.
	after func(settled float64) ecsstandin.Scenario
	poll  time.Duration // conveyor's poll interval (default -poll)
}

func scenarios() []scenario {
	crash := ecsstandin.Rule{Match: digest("bad"), Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 5}
	return []scenario{
		{name: "success", want: []string{"SUCCEEDED"}, works: true, digest: digest("600d")},
		{name: "reads throttled while ECS completes", want: []string{"SUCCEEDED"}, works: true, digest: digest("600d"), throttled: true,
			after: func(s float64) ecsstandin.Scenario {
				return ecsstandin.Scenario{ThrottleRate: -1, Throttle: []ecsstandin.ThrottleWindow{{Ops: readOps, FromSeconds: s + 5, UntilSeconds: s + 200}}}
			}},
		{name: "circuit-breaker rollback between two polls", want: []string{"ROLLED_BACK"}, digest: digest("bad"),
			rules: []ecsstandin.Rule{crash}, poll: 5 * time.Second},
		{name: "first two tasks time out on the network", want: []string{"SUCCEEDED"}, works: true, digest: digest("b11f"),
			rules: []ecsstandin.Rule{{Match: digest("b11f"), Behaviour: ecsstandin.NetworkTimeout, MaxTasks: 2}}},
		// The watcher's first look after the start comes after the crash
		// (poll 5 s = 100 virtual s): a crash later than the settle window
		// after SUCCESSFUL is beyond what any watcher sees (settle is an
		// input).
		{name: "tasks crash 90 s after start", want: []string{"ROLLED_BACK", "FAILED"}, digest: digest("90"), poll: 5 * time.Second,
			rules: []ecsstandin.Rule{{Match: digest("90"), Behaviour: ecsstandin.Crash, ExitCode: 1, CrashAfterSeconds: 90}}},
		{name: "the old image crashes too", want: []string{"ROLLBACK_FAILED", "TIMED_OUT"}, digest: digest("bad"),
			rules: []ecsstandin.Rule{crash},
			after: func(s float64) ecsstandin.Scenario {
				return ecsstandin.Scenario{ThrottleRate: -1, Rules: []ecsstandin.Rule{crash,
					{Match: digest("1111"), Behaviour: ecsstandin.Crash, ExitCode: 137, FromSeconds: s + 5}}}
			}},
		{name: "breaker rollback off", want: []string{"ROLLED_BACK"}, digest: digest("bad"), rules: []ecsstandin.Rule{crash}, rollbackOff: true},
		{name: "image not found, no breaker", want: []string{"ROLLED_BACK"}, digest: digest("0bad"), noBreaker: true,
			rules: []ecsstandin.Rule{{Match: digest("0bad"), Behaviour: ecsstandin.PullError}}},
		{name: "the digest already runs", want: []string{"SUCCEEDED"}, works: true, digest: digest("1111")},
	}
}

var keep bool

type outcome struct {
	verdict string
	code    int
	lag     time.Duration // exit − ECS's terminal state; -1 if ECS never reached one
	reads   int
	took    time.Duration
}

func main() {
	deployBin := flag.String("deploy", "", "the deploy action's binary (go build ./actions/deploy)")
	speed := flag.Float64("speed", 20, "stand-in virtual seconds per real second")
	poll := flag.Duration("poll", time.Second, "conveyor's poll interval")
	waiterCap := flag.Duration("waiter-timeout", 90*time.Second, "stop the waiter after this long (it would wait 10 min)")
	only := flag.String("only", "", "run only scenarios whose name contains this")
	flag.BoolVar(&keep, "keep", false, "keep each run's log, outputs and summary (their folder is printed)")
	flag.Parse()
	if *deployBin == "" {
		fmt.Fprintln(os.Stderr, "deployscore: -deploy is required (go build -o DIR/deploy ./actions/deploy)")
		os.Exit(2)
	}
	if _, err := exec.LookPath("aws"); err != nil {
		fmt.Fprintln(os.Stderr, "deployscore: the aws CLI is needed for the waiter side: pip install awscli")
		os.Exit(2)
	}
	ctx := context.Background()
	fmt.Printf("stand-in speed %.0fx, conveyor poll %s, waiter = aws ecs wait services-stable (15 s delay), capped at %s\n\n", *speed, *poll, *waiterCap)
	fmt.Println("| scenario | truth | conveyor verdict (exit) | right | lag (s) | reads | waiter exit | right | lag (s) | reads |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	var cRight, wRight, n int
	var cLags, wLags []float64
	for _, sc := range scenarios() {
		if *only != "" && !strings.Contains(sc.name, *only) {
			continue
		}
		n++
		p := *poll
		if sc.poll > 0 {
			p = sc.poll
		}
		c, err := runOne(ctx, sc, *speed, func(env []string, dir, url string) (string, int) { return conveyor(*deployBin, env, dir, p, sc.digest) })
		if err != nil {
			fmt.Fprintf(os.Stderr, "deployscore: %s (conveyor): %v\n", sc.name, err)
			os.Exit(1)
		}
		w, err := runOne(ctx, sc, *speed, func(env []string, dir, url string) (string, int) { return waiter(env, url, sc.digest, *waiterCap) })
		if err != nil {
			fmt.Fprintf(os.Stderr, "deployscore: %s (waiter): %v\n", sc.name, err)
			os.Exit(1)
		}
		cOK := slices.Contains(sc.want, c.verdict) && (c.code == 0) == sc.works
		wOK := (w.code == 0) == sc.works
		if cOK {
			cRight++
		}
		if wOK {
			wRight++
		}
		if c.lag >= 0 && !sc.throttled {
			cLags = append(cLags, c.lag.Seconds())
		}
		if w.lag >= 0 && !sc.throttled && w.code != 124 { // a capped waiter's lag is the cap
			wLags = append(wLags, w.lag.Seconds())
		}
		truth := strings.Join(sc.want, " or ")
		fmt.Printf("| %s | %s | %s (%d) | %s | %s | %d | %d | %s | %s | %d |\n", sc.name, truth, c.verdict, c.code, yes(cOK), lag(c.lag), c.reads,
			w.code, yes(wOK), lag(w.lag), w.reads)
	}
	fmt.Printf("\nright: conveyor %d of %d, waiter %d of %d\n", cRight, n, wRight, n)
	fmt.Printf("median lag from ECS's terminal state to exit (scenarios where ECS can be read): conveyor %s s (goal: at most one poll, %s, plus the settle window, one poll), waiter %s s; ratio waiter/conveyor %s\n",
		median(cLags), poll.String(), median(wLags), ratio(median(wLags), median(cLags)))
}

// runOne starts a stand-in, creates the service, lets it settle, installs
// the scenario's changes, and runs the tool.
func runOne(ctx context.Context, sc scenario, speed float64, tool func(env []string, dir, url string) (string, int)) (outcome, error) {
	srv, err := ecsstandin.New(ecsstandin.Options{Scenario: ecsstandin.Scenario{ThrottleRate: -1, Rules: sc.rules}, Speed: speed})
	if err != nil {
		return outcome{}, err
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		return outcome{}, err
	}
	defer srv.Close()
	cfg, err := srv.Config(ctx)
	if err != nil {
		return outcome{}, err
	}
	api := ecs.NewFromConfig(cfg)
	if err := createService(ctx, api, sc); err != nil {
		return outcome{}, err
	}
	if sc.after != nil {
		if err := srv.SetScenario(sc.after(srv.Elapsed())); err != nil {
			return outcome{}, err
		}
	}
	dir, err := os.MkdirTemp("", "deployscore")
	if err != nil {
		return outcome{}, err
	}
	if keep {
		fmt.Fprintf(os.Stderr, "deployscore: %s: %s\n", sc.name, dir)
	} else {
		defer os.RemoveAll(dir)
	}
	before := srv.Stats()
	began := time.Now()
	verdict, code := tool(append(os.Environ(), srv.Env()...), dir, srv.URL)
	end := time.Now()
	after := srv.Stats()
	o := outcome{verdict: verdict, code: code, lag: -1, took: end.Sub(began)}
	for _, op := range readOps {
		o.reads += after.Calls[op] - before.Calls[op]
	}
	var terminal time.Time
	for _, sd := range after.ServiceDeployments {
		if !sd.FinishedAtReal.IsZero() && sd.FinishedAtReal.After(began) && sd.FinishedAtReal.After(terminal) {
			terminal = sd.FinishedAtReal
		}
	}
	if !terminal.IsZero() {
		o.lag = end.Sub(terminal)
	}
	return o, nil
}

func createService(ctx context.Context, api *ecs.Client, sc scenario) error {
	td, err := api.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("bench"), Cpu: aws.String("256"), Memory: aws.String("512"), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String(repo + "@" + digest("1111")), Essential: aws.Bool(true),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}}}},
	})
	if err != nil {
		return err
	}
	if _, err := api.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("bench")}); err != nil {
		return err
	}
	if _, err := api.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("bench"), ServiceName: aws.String("bench"),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(2), LaunchType: types.LaunchTypeFargate,
		LoadBalancers: []types.LoadBalancer{{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/bench/0123456789abcdef"),
			ContainerName: aws.String("api"), ContainerPort: aws.Int32(8080)}},
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200),
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: !sc.noBreaker, Rollback: !sc.noBreaker && !sc.rollbackOff}}}); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("bench"), Services: []string{"bench"}})
		if err != nil {
			return err
		}
		if d := out.Services[0].Deployments; len(d) == 1 && d[0].RolloutState == types.DeploymentRolloutStateCompleted {
			return nil
		}
	}
	return fmt.Errorf("the bench service never settled")
}

func conveyor(bin string, env []string, dir string, poll time.Duration, dg string) (string, int) {
	outputs := filepath.Join(dir, "output")
	cmd := exec.Command(bin, "--cluster", "bench", "--services", "bench", "--image-map", `{"api":"`+repo+"@"+dg+`"}`,
		"--poll-interval", poll.String(), "--timeout", "60s")
	cmd.Env = append(env, "GITHUB_OUTPUT="+outputs, "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary"))
	log, _ := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(dir, "log"), log, 0o644)
	code := cmd.ProcessState.ExitCode()
	v := readOutput(outputs, "verdicts")
	if v == "" {
		return "no output", code
	}
	if i := strings.LastIndex(v, `":"`); i >= 0 {
		v = strings.TrimSuffix(v[i+3:], `"}`)
	}
	return v, code
}

// readOutput reads one output from a GITHUB_OUTPUT file, written as
// name<<DELIMITER, the value, DELIMITER (the form the action uses).
func readOutput(path, name string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if delim, ok := strings.CutPrefix(l, name+"<<"); ok {
			var val []string
			for _, v := range lines[i+1:] {
				if v == delim {
					return strings.Join(val, "\n")
				}
				val = append(val, v)
			}
		}
	}
	return ""
}

func waiter(env []string, url, dg string, capAt time.Duration) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), capAt)
	defer cancel()
	aws := func(args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", url, "--region", "us-east-1", "ecs"}, args...)...)
		c.Env = env
		return c
	}
	reg := aws("register-task-definition", "--family", "bench", "--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc",
		"--cpu", "256", "--memory", "512", "--container-definitions",
		`[{"name":"api","image":"`+repo+"@"+dg+`","essential":true,"portMappings":[{"containerPort":8080}]}]`,
		"--query", "taskDefinition.taskDefinitionArn", "--output", "text")
	td, err := reg.Output()
	if err != nil {
		return "register failed", 1
	}
	if err := aws("update-service", "--cluster", "bench", "--service", "bench", "--task-definition", strings.TrimSpace(string(td))).Run(); err != nil {
		return "update failed", 1
	}
	w := aws("wait", "services-stable", "--cluster", "bench", "--services", "bench")
	_ = w.Run()
	if ctx.Err() != nil {
		return "capped", 124
	}
	return "", w.ProcessState.ExitCode()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func lag(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", d.Seconds())
}

func median(xs []float64) string {
	if len(xs) == 0 {
		return "n/a"
	}
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	return fmt.Sprintf("%.1f", s[len(s)/2])
}

func ratio(a, b string) string {
	var x, y float64
	if _, err := fmt.Sscanf(a, "%g", &x); err != nil {
		return "n/a"
	}
	if _, err := fmt.Sscanf(b, "%g", &y); err != nil || y == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", x/y)
}
