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
		case Healthy, Crash, Unhealthy, PullError, SecretError, Hang:
		default:
			return fmt.Errorf("scenario rule %d (match %q): unknown behaviour %q (want healthy, crash, unhealthy, pull-error, secret-error or hang)", i, r.Match, r.Behaviour)
		}
		if r.Match == "" {
			return fmt.Errorf("scenario rule %d: match is empty; it would match every image", i)
		}
	}
	return nil
}

func (s Scenario) seconds(v, def float64) time.Duration {
	if v == 0 {
		v = def
	}
	return time.Duration(v * float64(time.Second))
}

func (s Scenario) rule(image string) Rule {
	for _, r := range s.Rules {
		if strings.Contains(image, r.Match) {
			return r
		}
	}
	return Rule{Behaviour: Healthy}
}

// scenarioLauncher simulates tasks from a Scenario.
type scenarioLauncher struct{ get func() Scenario }

func (l scenarioLauncher) Launch(spec TaskSpec, now time.Time) Handle {
	sc := l.get()
	h := &simTask{spec: spec, launched: now, lb: spec.HasLoadBalancer,
		start: sc.seconds(0, 10), healthy: sc.seconds(sc.HealthySeconds, 20), stop: sc.seconds(sc.StopSeconds, 2),
		rule: Rule{Behaviour: Healthy}, digests: map[string]string{}}
	if sc.StartSeconds != 0 {
		h.start = sc.seconds(sc.StartSeconds, 10)
	}
	// The first essential container whose image matches a rule decides.
	for _, c := range spec.Containers {
		h.digests[c.Name] = digestOf(c.Image)
		if r := sc.rule(c.Image); r.Behaviour != Healthy || r.Match != "" {
			if h.rule.Match == "" {
				h.rule, h.container = r, c.Name
			}
		}
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
			reason = fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref %s: not found", img)
		}
		return Observation{Exited: true, StopCode: "TaskFailedToStart", Reason: reason,
			ContainerReasons: map[string]string{t.container: reason}}
	case SecretError:
		if now.Before(t.launched.Add(t.start / 2)) {
			return o
		}
		reason := t.rule.Reason
		if reason == "" {
			reason = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): ResourceNotFoundException: Secrets Manager can't find the specified secret."
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

func (t *simTask) health(now, runAt time.Time, verdict, _ string) string {
	if !now.Before(runAt.Add(t.healthy)) {
		return verdict
	}
	return ""
}
