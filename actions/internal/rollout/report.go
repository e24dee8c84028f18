package rollout

import (
	"fmt"
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

var icons = map[Verdict]string{Succeeded: "✅", RolledBack: "↩️", Failed: "❌", TimedOut: "⏱️", Superseded: "⏭️"}

// Summary renders the step summary: a table per service and the evidence.
func Summary(title string, results []*Result, w *Watcher) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", title)
	for _, r := range results {
		fmt.Fprintf(&b, "### %s %s: %s\n\n", icons[r.Verdict], r.Service, r.Verdict)
		b.WriteString("| | |\n|---|---|\n")
		row := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "| %s | %s |\n", k, strings.ReplaceAll(v, "|", "\\|"))
			}
		}
		row("verdict", string(r.Verdict))
		row("cluster", r.Cluster)
		row("deployment", code(r.DeploymentID))
		td := code(plan.ShortTaskDef(r.OldTaskDef))
		if r.NewTaskDef != "" {
			td += " → " + code(plan.ShortTaskDef(r.NewTaskDef))
		}
		row("task definition", td)
		row("digest", code(digestPairs(r.Digests, " ")))
		if r.Duration() > 0 {
			row("duration", r.Duration().String())
		}
		row("reason", r.Reason)
		row("stalled phase", r.Phase)
		if r.Threshold > 0 {
			row("circuit breaker", fmt.Sprintf("%d failed tasks of threshold %d", r.FailedTasks, r.Threshold))
		}
		if rb := r.Rollback; rb != nil {
			state := "completed"
			if rb.Verdict != Succeeded {
				state = fmt.Sprintf("did not complete (%s: %s)", rb.Verdict, rb.Reason)
			}
			row("rollback", fmt.Sprintf("by %s, deployment %s to %s: %s", rb.By, code(rb.DeploymentID), code(plan.ShortTaskDef(rb.NewTaskDef)), state))
		} else if r.Kind == KindDeploy && r.Verdict != Succeeded && r.Verdict != Superseded && r.DeploymentID != "" {
			why := "no earlier deployment COMPLETED, nothing to roll back to"
			if r.RollbackTarget != "" {
				why = "rollback is off; the last COMPLETED task definition is " + code(plan.ShortTaskDef(r.RollbackTarget))
			}
			row("rollback", "none: "+why)
		}
		for _, wmsg := range r.Warnings {
			row("warning", wmsg)
		}
		b.WriteString("\n")
		ev := append([]string{}, r.Evidence...)
		if r.Rollback != nil {
			ev = append(ev, r.Rollback.Evidence...)
		}
		if len(ev) > 0 {
			fmt.Fprintf(&b, "<details><summary>evidence (%d)</summary>\n\n", len(ev))
			for _, e := range ev {
				fmt.Fprintf(&b, "- %s\n", e)
			}
			b.WriteString("\n</details>\n\n")
		}
	}
	if w != nil {
		fmt.Fprintf(&b, "Watched in %d polling rounds; ECS throttled %d reads.\n", w.Rounds, w.Throttled)
	}
	return b.String()
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
