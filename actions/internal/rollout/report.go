package rollout

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

var icons = map[Verdict]string{Succeeded: "✅", RolledBack: "↩️", RollbackFailed: "🔥", Failed: "❌", TimedOut: "⏱️", Superseded: "⏭️", Unknown: "❓"}

// cell keeps a value inside one table cell: a "|" would split it and a
// line break (a stopped reason, an error text) would end the table.
var cell = strings.NewReplacer("|", "\\|", "\r\n", " ", "\n", " ", "\r", " ")

// Budget says how the run's timeout was split, for the summary.
type Budget struct {
	Timeout, Rollback time.Duration
}

// Summary renders the step summary: per service a table, the rollout
// timeline as a Mermaid gantt chart, and the evidence.
func Summary(title string, results []*Result, w *Watcher, b Budget) string {
	var s strings.Builder
	fmt.Fprintf(&s, "## %s\n\n", title)
	if b.Timeout > 0 {
		fmt.Fprintf(&s, "Timeout %s for the whole run", b.Timeout)
		if b.Rollback > 0 {
			fmt.Fprintf(&s, ": %s for the deployments, %s kept for a rollback", b.Timeout-b.Rollback, b.Rollback)
		}
		s.WriteString(".\n\n")
	}
	for _, r := range results {
		fmt.Fprintf(&s, "### %s %s: %s\n\n", icons[r.Verdict], r.Service, r.Verdict)
		s.WriteString("| | |\n|---|---|\n")
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&s, "| %s | %s |\n", k, cell.Replace(v))
			}
		}
		row("verdict", string(r.Verdict))
		if r.Cause != "" {
			row("before the rollback", string(r.Cause))
		}
		row("cluster", r.Cluster)
		row("deployment", code(r.DeploymentID))
		row("service deployment", code(r.ServiceDeployment))
		td := code(plan.ShortTaskDef(r.OldTaskDef))
		if r.NewTaskDef != "" && r.NewTaskDef != r.OldTaskDef {
			td += " → " + code(plan.ShortTaskDef(r.NewTaskDef))
		}
		row("task definition", td)
		row("digest", code(digestPairs(r.Digests, " ")))
		if r.Duration() > 0 {
			row("duration", r.Duration().String())
		}
		row("reason", r.Reason)
		row("phase at the deadline", r.Phase)
		if r.Threshold > 0 {
			row("circuit breaker", fmt.Sprintf("%d failed tasks of threshold %d", r.FailedTasks, r.Threshold))
		}
		if rb := r.Rollback; rb != nil {
			row("rollback", fmt.Sprintf("by %s, %s to %s: %s", rb.By, orDash(code(rb.DeploymentID)), code(plan.ShortTaskDef(rb.NewTaskDef)), rb.Verdict))
		}
		if r.Verdict != Succeeded {
			row("next step", NextStep(r))
		}
		for _, wmsg := range r.Warnings {
			row("warning", wmsg)
		}
		s.WriteString("\n")
		if g := Gantt(r); g != "" {
			s.WriteString(g + "\n")
		}
		if rb := r.Rollback; rb != nil {
			if g := Gantt(rb); g != "" {
				s.WriteString(g + "\n")
			}
		}
		ev := append([]string{}, r.Evidence...)
		if r.Rollback != nil {
			ev = append(ev, r.Rollback.Evidence...)
		}
		if len(ev) > 0 {
			fmt.Fprintf(&s, "<details><summary>evidence (%d)</summary>\n\n", len(ev))
			for _, e := range ev {
				fmt.Fprintf(&s, "- %s\n", strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(e))
			}
			s.WriteString("\n</details>\n\n")
		}
	}
	if w != nil {
		fmt.Fprintf(&s, "Watched in %d polling rounds; %d reads failed, %d of them throttled by ECS.\n", w.Rounds, w.ReadErrors, w.Throttled)
	}
	return s.String()
}

// RootCause is the first evidence of why a deployment failed: a stopped
// task of it (stop code, exit code, ELB reason), else the reason.
func RootCause(r *Result) string {
	for _, e := range r.Evidence {
		if strings.HasPrefix(e, "stopped task ") && strings.Contains(e, "("+plan.ShortTaskDef(r.NewTaskDef)+")") && !strings.Contains(e, "stop code ServiceSchedulerInitiated, reason \"Scaling") {
			return e
		}
	}
	return ""
}

// NextStep tells the operator where to look and what to do.
func NextStep(r *Result) string {
	var parts []string
	switch r.Verdict {
	case Unknown:
		// When conveyor's rollback is what is unknown, look at the
		// rollback's service deployment, not the one it replaced.
		sd := r.ServiceDeployment
		if rb := r.Rollback; rb != nil && rb.Verdict == Unknown && rb.ServiceDeployment != "" {
			sd = rb.ServiceDeployment
		}
		parts = append(parts, fmt.Sprintf("the outcome is unknown: look with `aws ecs describe-service-deployments --service-deployment-arns %s` (or the ECS console, service %s, Deployments tab) before acting",
			orDash(sd), r.Service))
	case RolledBack:
		parts = append(parts, "the service runs the earlier revision; fix the release and push again")
	case Superseded:
		if rb := r.Rollback; rb != nil && rb.Verdict == Superseded {
			parts = append(parts, "another deployment replaced conveyor's rollback of this one: check what the service runs now; that deployment's run has the verdict")
		} else {
			parts = append(parts, "another deployment replaced this one; its run has the verdict")
		}
	default:
		parts = append(parts, fmt.Sprintf("run the rollback workflow (Actions → rollback, service %s) if the service is still on the failed revision", r.Service))
	}
	if r.LogGroup != "" {
		parts = append(parts, fmt.Sprintf("task logs: CloudWatch log group %s", r.LogGroup))
	}
	return strings.Join(parts, "; ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// digestPairs lists container and digest pairs, joined by sep, in container
// order so the summary and the log read the same on every run.
func digestPairs(m map[string]string, sep string) string {
	var parts []string
	for c, d := range m {
		parts = append(parts, c+sep+d)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
