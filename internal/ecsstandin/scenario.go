package ecsstandin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Behaviour names what tasks of an image do.
type Behaviour string

const (
	// Healthy tasks start and pass health checks.
	Healthy Behaviour = "healthy"
	// Crash tasks start, run for a while and exit with ExitCode.
	Crash Behaviour = "crash"
	// Unhealthy tasks start but fail ELB health checks.
	Unhealthy Behaviour = "unhealthy"
	// PullError tasks never start: the image cannot be pulled.
	PullError Behaviour = "pull-error"
	// SecretError tasks never start: a secret cannot be fetched.
	SecretError Behaviour = "secret-error"
	// Hang tasks stay PENDING forever.
	Hang Behaviour = "hang"
	// NetworkTimeout tasks never start: fetching the registry auth or a
	// secret times out on the network. The error is transient (a network
	// blip); ECS counts it against the circuit breaker like any task that
	// failed to start.
	NetworkTimeout Behaviour = "network-timeout"
	// AccessDenied tasks never start: the registry refuses the pull (403).
	AccessDenied Behaviour = "access-denied"
)

// Stopped-reason texts. Sources, real task output:
//   - CannotPullContainerError ... "failed to resolve ref <ref>: not found":
//     the ECS stopped-task error page,
//     https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html,
//     and containerd's resolver, which Fargate pulls with.
//   - ResourceInitializationError "unable to pull secrets or registry auth:
//     execution resource retrieval failed: unable to retrieve ... service
//     call has been retried N time(s): ...": captures in
//     https://github.com/umotif-public/terraform-aws-ecs-fargate/issues/50
//     (a network deadline) and the ResourceNotFoundException text of
//     https://github.com/aws/amazon-ecs-agent/pull/4181.
//   - "dial tcp <ip>:443: i/o timeout" inside a pull error: capture in
//     https://github.com/ActionIQ/terraform-aws-retool-ecs-fargate/issues/20.
//   - "unexpected status from HEAD request to <url>: 403 Forbidden": the
//     text containerd's resolver gives a refused manifest request.
const (
	textNotFound       = "CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref %s: not found"
	textSecretMissing  = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): ResourceNotFoundException: Secrets Manager can't find the specified secret."
	textNetworkTimeout = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post \"https://api.ecr.us-east-1.amazonaws.com/\": dial tcp 10.0.0.1:443: i/o timeout"
	textAccessDenied   = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref %s: unexpected status from HEAD request to %s: 403 Forbidden"
)

// Rule says what tasks whose container image contains Match do.
type Rule struct {
	Match     string    `json:"match"`
	Behaviour Behaviour `json:"behaviour"`
	// StartSeconds is the time from launch to RUNNING (default: the
	// scenario's StartSeconds).
	StartSeconds float64 `json:"startSeconds,omitempty"`
	// CrashAfterSeconds is how long a Crash task runs (default 5).
	CrashAfterSeconds float64 `json:"crashAfterSeconds,omitempty"`
	ExitCode          int     `json:"exitCode,omitempty"`
	// Reason overrides the container or health-check reason.
	Reason string `json:"reason,omitempty"`
	// FromSeconds and UntilSeconds bound when the rule applies: to tasks
	// launched at virtual time start+FromSeconds or later, and before
	// start+UntilSeconds (0: no bound), where start is the stand-in's
	// starting time. A rule that ends models a network blip; one that
	// begins, an image that starts failing mid-run. Outside its window a
	// rule is skipped and the next matching rule (or healthy) decides.
	FromSeconds  float64 `json:"fromSeconds,omitempty"`
	UntilSeconds float64 `json:"untilSeconds,omitempty"`
	// MaxTasks, when positive, applies the rule to the first MaxTasks tasks
	// it matches only ("the first two tasks fail"). SetScenario restarts
	// the count.
	MaxTasks int `json:"maxTasks,omitempty"`
}

// ThrottleWindow throttles every call of Ops made while the virtual clock
// is within [start+FromSeconds, start+UntilSeconds): ECS answers
// ThrottlingException "Rate exceeded" (as it does past its token bucket,
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html),
// whatever the bucket holds.
type ThrottleWindow struct {
	// Ops are operation names (DescribeServices, ...); "*" is every read
	// operation.
	Ops          []string `json:"ops"`
	FromSeconds  float64  `json:"fromSeconds,omitempty"`
	UntilSeconds float64  `json:"untilSeconds"`
}

// Scenario drives the simulated tasks. The zero value makes every task start
// and pass health checks.
type Scenario struct {
	Rules []Rule `json:"rules"`
	// StartSeconds: launch to RUNNING (default 10).
	StartSeconds float64 `json:"startSeconds,omitempty"`
	// HealthySeconds: RUNNING to healthy or unhealthy in the target group
	// (default 20: two checks 10 s apart).
	HealthySeconds float64 `json:"healthySeconds,omitempty"`
	// DeregistrationSeconds: the target group's deregistration delay
	// (default 30, ours; AWS's default is 300).
	DeregistrationSeconds float64 `json:"deregistrationSeconds,omitempty"`
	// StopSeconds: SIGTERM to exit for a task that is told to stop (default 2).
	StopSeconds float64 `json:"stopSeconds,omitempty"`
	// ThrottleRate and ThrottleBurst size the token bucket shared by read
	// calls, in requests per real second (default 20 and 20; negative turns
	// throttling off).
	ThrottleRate  float64 `json:"throttleRate,omitempty"`
	ThrottleBurst float64 `json:"throttleBurst,omitempty"`
	// Throttle lists windows of virtual time in which calls are throttled.
	Throttle []ThrottleWindow `json:"throttle,omitempty"`
}

// LoadScenario reads a scenario from a JSON file.
func LoadScenario(path string) (Scenario, error) {
	var s Scenario
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read scenario: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, s.validate()
}

func (s Scenario) validate() error {
	for i, r := range s.Rules {
		switch r.Behaviour {
		case Healthy, Crash, Unhealthy, PullError, SecretError, Hang, NetworkTimeout, AccessDenied:
		default:
			return fmt.Errorf("scenario rule %d (match %q): unknown behaviour %q (want healthy, crash, unhealthy, pull-error, secret-error, network-timeout, access-denied or hang)", i, r.Match, r.Behaviour)
		}
		if r.Match == "" {
			return fmt.Errorf("scenario rule %d: match is empty; it would match every image", i)
		}
		if r.FromSeconds < 0 || r.UntilSeconds < 0 || r.UntilSeconds != 0 && r.UntilSeconds <= r.FromSeconds || r.MaxTasks < 0 {
			return fmt.Errorf("scenario rule %d (match %q): window fromSeconds %v untilSeconds %v maxTasks %d: want 0 <= fromSeconds < untilSeconds (or untilSeconds 0 for no end) and maxTasks >= 0", i, r.Match, r.FromSeconds, r.UntilSeconds, r.MaxTasks)
		}
	}
	for i, tw := range s.Throttle {
		if len(tw.Ops) == 0 || tw.FromSeconds < 0 || tw.UntilSeconds <= tw.FromSeconds {
			return fmt.Errorf("scenario throttle window %d: want ops (operation names or \"*\") and 0 <= fromSeconds < untilSeconds, got ops %v from %v until %v", i, tw.Ops, tw.FromSeconds, tw.UntilSeconds)
		}
		for _, op := range tw.Ops {
			if op != "*" && handlers[op] == nil {
				return fmt.Errorf("scenario throttle window %d: %q is not an operation the stand-in serves", i, op)
			}
		}
	}
	return nil
}

// throttled says whether a window throttles op at elapsed virtual seconds.
func (s Scenario) throttled(op string, elapsed float64) bool {
	for _, tw := range s.Throttle {
		if elapsed < tw.FromSeconds || elapsed >= tw.UntilSeconds {
			continue
		}
		for _, o := range tw.Ops {
			if o == op || o == "*" && readOps[op] {
				return true
			}
		}
	}
	return false
}

func (s Scenario) seconds(v, def float64) time.Duration {
	if v == 0 {
		v = def
	}
	return time.Duration(v * float64(time.Second))
}

// rule is the first rule matching image (healthy if none), ignoring windows.
func (s Scenario) rule(image string) Rule {
	r, _ := s.ruleAt(image, -1, nil)
	return r
}

// ruleAt is the first rule matching image whose window holds elapsed
// virtual seconds (elapsed < 0 ignores windows) and that has tasks left;
// its index, or -1 for the healthy default.
func (s Scenario) ruleAt(image string, elapsed float64, used map[int]int) (Rule, int) {
	for i, r := range s.Rules {
		if !strings.Contains(image, r.Match) {
			continue
		}
		if elapsed >= 0 && (elapsed < r.FromSeconds || r.UntilSeconds != 0 && elapsed >= r.UntilSeconds) {
			continue
		}
		if r.MaxTasks > 0 && used != nil && used[i] >= r.MaxTasks {
			continue
		}
		return r, i
	}
	return Rule{Behaviour: Healthy}, -1
}

// scenarioLauncher simulates tasks from the world's scenario.
type scenarioLauncher struct{ w *world }

func (l scenarioLauncher) Launch(spec TaskSpec, now time.Time) Handle {
	w := l.w
	sc := w.scen
	elapsed := now.Sub(w.start).Seconds()
	h := &simTask{spec: spec, launched: now, lb: spec.HasLoadBalancer,
		start: sc.seconds(0, 10), healthy: sc.seconds(sc.HealthySeconds, 20), stop: sc.seconds(sc.StopSeconds, 2),
		rule: Rule{Behaviour: Healthy}, digests: map[string]string{}}
	if sc.StartSeconds != 0 {
		h.start = sc.seconds(sc.StartSeconds, 10)
	}
	// The first essential container whose image matches a rule decides.
	chosen := -1
	for _, c := range spec.Containers {
		h.digests[c.Name] = digestOf(c.Image)
		if r, i := sc.ruleAt(c.Image, elapsed, w.ruleUses); i >= 0 && chosen < 0 {
			h.rule, h.container, chosen = r, c.Name, i
		}
	}
	if chosen >= 0 {
		w.ruleUses[chosen]++
	}
	if h.container == "" && len(spec.Containers) > 0 {
		h.container = spec.Containers[0].Name
	}
	if h.rule.StartSeconds != 0 {
		h.start = sc.seconds(h.rule.StartSeconds, 0)
	}
	return h
}

// digestOf is the digest a pull would resolve: the pinned one, or a stable
// made-up one for a tag.
func digestOf(image string) string {
	if i := strings.Index(image, "@sha256:"); i >= 0 {
		return image[i+1:]
	}
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

type simTask struct {
	spec      TaskSpec
	rule      Rule
	container string
	digests   map[string]string
	lb        bool
	launched  time.Time
	start     time.Duration
	healthy   time.Duration
	stop      time.Duration
	stoppedAt time.Time // when Stop was called
}

func (t *simTask) Stop(now time.Time) {
	if t.stoppedAt.IsZero() {
		t.stoppedAt = now
	}
}

func (t *simTask) Observe(now time.Time) Observation {
	o := Observation{Digests: t.digests}
	runAt := t.launched.Add(t.start)
	if !t.stoppedAt.IsZero() && !now.Before(t.stoppedAt.Add(t.stop)) {
		o.Exited = true
		o.StopCode = "ServiceSchedulerInitiated"
		o.ExitCodes = map[string]int{}
		for _, c := range t.spec.Containers {
			o.ExitCodes[c.Name] = 0
		}
		if t.stoppedAt.Before(runAt) {
			o.ExitCodes = nil
		}
		return o
	}
	switch t.rule.Behaviour {
	case Hang:
		return o
	case PullError:
		if now.Before(t.launched.Add(t.start / 2)) {
			return o
		}
		img := ""
		for _, c := range t.spec.Containers {
			if c.Name == t.container {
				img = c.Image
			}
		}
		reason := t.rule.Reason
		if reason == "" {
			reason = fmt.Sprintf(textNotFound, img)
		}
		return Observation{Exited: true, StopCode: "TaskFailedToStart", Reason: reason,
			ContainerReasons: map[string]string{t.container: reason}}
	case AccessDenied:
		if now.Before(t.launched.Add(t.start / 2)) {
			return o
		}
		reason := t.rule.Reason
		if reason == "" {
			img := t.image()
			reason = fmt.Sprintf(textAccessDenied, img, manifestURL(img))
		}
		return Observation{Exited: true, StopCode: "TaskFailedToStart", Reason: reason,
			ContainerReasons: map[string]string{t.container: reason}}
	case SecretError, NetworkTimeout:
		if now.Before(t.launched.Add(t.start / 2)) {
			return o
		}
		reason := t.rule.Reason
		if reason == "" {
			reason = textSecretMissing
			if t.rule.Behaviour == NetworkTimeout {
				reason = textNetworkTimeout
			}
		}
		return Observation{Exited: true, StopCode: "TaskFailedToStart", Reason: reason}
	}
	if now.Before(runAt) {
		return o
	}
	o.Running = true
	switch t.rule.Behaviour {
	case Crash:
		after := t.rule.CrashAfterSeconds
		if after == 0 {
			after = 5
		}
		if !now.Before(runAt.Add(time.Duration(after * float64(time.Second)))) {
			code := t.rule.ExitCode
			if code == 0 {
				code = 1
			}
			o.Running, o.Exited = false, true
			o.StopCode = "EssentialContainerExited"
			o.Reason = fmt.Sprintf("Essential container in task exited")
			o.ExitCodes = map[string]int{t.container: code}
			for _, c := range t.spec.Containers {
				if _, ok := o.ExitCodes[c.Name]; !ok {
					o.ExitCodes[c.Name] = 0
				}
			}
			if t.rule.Reason != "" {
				o.ContainerReasons = map[string]string{t.container: t.rule.Reason}
			}
			return o
		}
		o.Health = t.health(now, runAt, "healthy", "")
	case Unhealthy:
		reason := t.rule.Reason
		if reason == "" {
			reason = "Health checks failed with these codes: [14]"
		}
		o.Health = t.health(now, runAt, "unhealthy", reason)
		if o.Health == "unhealthy" {
			o.HealthReason = reason
		}
	default:
		o.Health = t.health(now, runAt, "healthy", "")
	}
	return o
}

func (t *simTask) image() string {
	for _, c := range t.spec.Containers {
		if c.Name == t.container {
			return c.Image
		}
	}
	return ""
}

// manifestURL is the registry URL a pull of image asks for its manifest.
func manifestURL(image string) string {
	host, rest, ok := strings.Cut(image, "/")
	if !ok || !strings.ContainsAny(host, ".:") {
		host, rest = "registry-1.docker.io", image
	}
	repo, ref := rest, "latest"
	if i := strings.Index(rest, "@"); i >= 0 {
		repo, ref = rest[:i], rest[i+1:]
	} else if i := strings.LastIndex(rest, ":"); i >= 0 {
		repo, ref = rest[:i], rest[i+1:]
	}
	return fmt.Sprintf("https://%s/v2/%s/manifests/%s", host, repo, ref)
}

func (t *simTask) health(now, runAt time.Time, verdict, _ string) string {
	if !now.Before(runAt.Add(t.healthy)) {
		return verdict
	}
	return ""
}
