// Package step is the GitHub step around a rollout, shared by the deploy and
// rollback actions: the inputs they have in common, and the outputs, step
// summary and annotations that report the verdicts.
package step

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

// Inputs are the inputs deploy and rollback share.
var Inputs = []gha.Input{
	{Name: "cluster", Required: true, Usage: "ECS cluster name"},
	{Name: "services", Required: true, Usage: "ECS services, comma- or newline-separated"},
	{Name: "timeout", Default: "30m", Usage: "how long the whole run may take, rollbacks included; at the deadline one last read decides"},
	{Name: "poll-interval", Default: "5s", Usage: "time between polling rounds (backs off when throttled)"},
	{Name: "settle", Usage: "how long a SUCCESSFUL deployment must keep every task on the pinned digests before it SUCCEEDED (default: one poll interval; 0s: none)"},
	{Name: "aws-region", Usage: "AWS region (default: AWS_REGION)"},
	{Name: "health-check-time", Default: "150s", Usage: "assumed time for a target to turn healthy (healthy threshold × interval), for the timeout warning"},
	{Name: "deregistration-delay", Default: "30s", Usage: "the target group's deregistration delay, for the timeout warning"},
}

// Common reads the inputs deploy and rollback share; action ("deploy" or
// "rollback") titles the pre-flight warnings.
func Common(action string, in gha.Values, gh *gha.Runner) (rollout.Options, error) {
	o := rollout.Options{Cluster: in.String("cluster"), Services: in.List("services"), Assumptions: plan.DefaultAssumptions}
	var errs []error
	var err error
	if o.Timeout, err = in.Duration("timeout"); err != nil {
		errs = append(errs, err)
	} else if o.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: %s: must be more than 0", in.String("timeout")))
	}
	if o.Poll, err = in.Duration("poll-interval"); err != nil {
		errs = append(errs, err)
	} else if o.Poll <= 0 {
		errs = append(errs, fmt.Errorf("poll-interval: %s: must be more than 0", in.String("poll-interval")))
	}
	if in.String("settle") != "" {
		if o.Settle, err = in.Duration("settle"); err != nil {
			errs = append(errs, err)
		} else if o.Settle < 0 {
			errs = append(errs, fmt.Errorf("settle: %s: must not be negative (0s: no settle window)", in.String("settle")))
		} else if o.Timeout > 0 && o.Settle >= o.Timeout {
			// No deployment could hold that long within the run, and the
			// one extension at the deadline would overrun the timeout.
			errs = append(errs, fmt.Errorf("settle: %s is not shorter than timeout %s: no deployment could settle in time", in.String("settle"), o.Timeout))
		} else if o.Settle == 0 {
			o.Settle = -1 // explicitly none
		}
	}
	errs = append(errs, checkServices(o.Services)...)

	if o.Assumptions.LBHealthy, err = in.Duration("health-check-time"); err != nil {
		errs = append(errs, err)
	}
	if o.Assumptions.Deregister, err = in.Duration("deregistration-delay"); err != nil {
		errs = append(errs, err)
	}
	if len(o.Services) == 0 {
		errs = append(errs, fmt.Errorf("services: no service names given"))
	}
	var mu sync.Mutex
	o.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		gh.Logf(time.Now().UTC().Format("15:04:05.000")+" "+format, args...)
	}
	o.Warnf = func(format string, args ...any) {
		gh.Warning(gha.Annotation{Title: action + ": pre-flight", Message: fmt.Sprintf(format, args...)})
	}
	return o, errors.Join(errs...)
}

// serviceName is what ECS allows a service name: "Up to 255 letters
// (uppercase and lowercase), numbers, underscores, and hyphens are
// allowed" (CreateService, serviceName, ECS API Reference).
var serviceName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// checkServices refuses service names ECS cannot have (an ARN among them:
// results, outputs and the summary are keyed by name) and names given
// twice (two deployments of one service would supersede each other).
func checkServices(names []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case !serviceName.MatchString(n):
			errs = append(errs, fmt.Errorf("services: %q is not an ECS service name (letters, digits, hyphens and underscores, up to 255; give names, not ARNs)", n))
		case seen[n]:
			errs = append(errs, fmt.Errorf("services: %s is given twice", n))
		}
		seen[n] = true
	}
	return errs
}

// Report writes the summary, the outputs and the annotations and returns
// the exit code: 0 only if every service SUCCEEDED.
func Report(gh *gha.Runner, title string, results []*rollout.Result, w *rollout.Watcher, b rollout.Budget) int {
	verdicts, deployments, tds := map[string]string{}, map[string]string{}, map[string]string{}
	code := 0
	for _, r := range results {
		verdicts[r.Service] = string(r.Verdict)
		deployments[r.Service] = r.DeploymentID
		tds[r.Service] = r.NewTaskDef
		if r.OK() {
			continue
		}
		code = 1
		msg := r.Reason
		if r.Phase != "" {
			msg += "\nwhere it stood: " + r.Phase
		}
		if rc := rollout.RootCause(r); rc != "" {
			msg += "\nroot cause: " + rc
		}
		msg += "\nnext step: " + rollout.NextStep(r)
		gh.Error(gha.Annotation{Title: fmt.Sprintf("%s %s: %s", r.Kind, r.Service, r.Verdict), Message: msg})
	}
	result := "success"
	if code != 0 {
		result = "failure"
	}
	js := func(m map[string]string) string { b, _ := json.Marshal(m); return string(b) }
	if err := gh.SetOutputs(map[string]string{"verdicts": js(verdicts), "deployments": js(deployments), "task-definitions": js(tds), "result": result}); err != nil {
		gh.Error(gha.Annotation{Title: "outputs", Message: err.Error()})
		code = 1
	}
	if err := gh.Summary(rollout.Summary(title, results, w, b)); err != nil {
		gh.Error(gha.Annotation{Title: "step summary", Message: err.Error()})
		code = 1
	}
	return code
}

// Fail reports a run that stopped before any verdict (bad inputs, no AWS
// access, infrastructure not applied): an error annotation, every output
// written (result=failure, empty maps) and a summary that says why. It
// returns code.
func Fail(gh *gha.Runner, title, what string, err error, code int) int {
	gh.Error(gha.Annotation{Title: title + ": " + what, Message: err.Error()})
	if oerr := gh.SetOutputs(map[string]string{"verdicts": "{}", "deployments": "{}", "task-definitions": "{}", "result": "failure"}); oerr != nil {
		gh.Error(gha.Annotation{Title: "outputs", Message: oerr.Error()})
	}
	_ = gh.Summary(fmt.Sprintf("## %s\n\nStopped before any service was touched (%s):\n\n```\n%s\n```\n", title, what, err))
	return code
}
