package rollout

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

// Timeline is what the watcher saw of a deployment's tasks and of ECS's
// decisions, by ECS's clock. Gantt draws it, so the chart tells the same
// story as the verdict.
type Timeline struct {
	tasks  map[string]*span
	order  []string
	marks  []mark
	latest time.Time
}

type span struct {
	id, section                                  string
	created, started, healthy, stopping, stopped time.Time
	failed                                       bool
}

type mark struct {
	at    time.Time
	label string
}

func (r *Result) timeline() *Timeline {
	if r.tl == nil {
		r.tl = &Timeline{tasks: map[string]*span{}}
	}
	return r.tl
}

func (tl *Timeline) seen(ts ...*time.Time) {
	for _, t := range ts {
		if t != nil && t.After(tl.latest) {
			tl.latest = *t
		}
	}
}

// observe records a task's milestones. deployment is the watched
// deployment's id, so its tasks get their own section.
func (tl *Timeline) observe(t types.Task, deployment string) {
	arn := aws.ToString(t.TaskArn)
	s := tl.tasks[arn]
	if s == nil {
		section := plan.ShortTaskDef(aws.ToString(t.TaskDefinitionArn))
		if aws.ToString(t.StartedBy) == deployment {
			section += " (this deployment)"
		}
		s = &span{id: taskID(arn), section: section}
		tl.tasks[arn] = s
		tl.order = append(tl.order, arn)
	}
	tl.seen(t.CreatedAt, t.StartedAt, t.StoppingAt, t.StoppedAt)
	s.created = aws.ToTime(t.CreatedAt)
	s.started = aws.ToTime(t.StartedAt)
	s.stopping = aws.ToTime(t.StoppingAt)
	s.stopped = aws.ToTime(t.StoppedAt)
	if t.HealthStatus == types.HealthStatusHealthy && s.healthy.IsZero() {
		s.healthy = s.started
	}
	if aws.ToString(t.LastStatus) == "STOPPED" {
		c := classifyStop(t.StopCode, stopReasons(t)...)
		s.failed = c != StopExpected
	}
}

// mark records the service deployment's milestones.
func (tl *Timeline) mark(sd *types.ServiceDeployment) {
	tl.marks = tl.marks[:0]
	add := func(t *time.Time, label string) {
		if t != nil && !t.IsZero() {
			tl.seen(t)
			tl.marks = append(tl.marks, mark{*t, label})
		}
	}
	add(sd.CreatedAt, "service deployment created")
	if rb := sd.Rollback; rb != nil {
		add(rb.StartedAt, "ECS rollback started")
	}
	add(sd.FinishedAt, "ECS: "+string(sd.Status))
	add(sd.StoppedAt, "ECS: "+string(sd.Status))
}

// maxGanttTasks keeps a chart readable: the latest tasks are the story.
const maxGanttTasks = 40

// Gantt renders the timeline as a Mermaid gantt chart (GitHub renders
// ```mermaid blocks in step summaries). It is empty when nothing was seen.
func Gantt(r *Result) string {
	tl := r.tl
	if tl == nil || len(tl.order) == 0 {
		return ""
	}
	var b strings.Builder
	ms := func(t time.Time) int64 { return t.UnixMilli() }
	fmt.Fprintf(&b, "```mermaid\ngantt\n    title %s %s: %s\n    dateFormat x\n    axisFormat %%H:%%M:%%S\n", mermaidText(r.Service), r.Kind, r.Verdict)
	bySection := map[string][]*span{}
	var sections []string
	order := tl.order
	if len(order) > maxGanttTasks {
		fmt.Fprintf(&b, "    %%%% the %d earliest of %d tasks are left out\n", len(order)-maxGanttTasks, len(order))
		order = order[len(order)-maxGanttTasks:]
	}
	for _, arn := range order {
		s := tl.tasks[arn]
		if bySection[s.section] == nil {
			sections = append(sections, s.section)
		}
		bySection[s.section] = append(bySection[s.section], s)
	}
	sort.Strings(sections)
	end := func(s *span) time.Time {
		for _, t := range []time.Time{s.stopping, s.stopped} {
			if !t.IsZero() {
				return t
			}
		}
		return tl.latest
	}
	bar := func(name, tags string, from, to time.Time) {
		if from.IsZero() || to.Before(from) {
			return
		}
		if tags != "" {
			tags += ", "
		}
		fmt.Fprintf(&b, "    %s :%s%d, %d\n", name, tags, ms(from), ms(to))
	}
	for _, sec := range sections {
		fmt.Fprintf(&b, "    section %s\n", mermaidText(sec))
		for _, s := range bySection[sec] {
			id := mermaidText(s.id[max(0, len(s.id)-8):])
			if s.started.IsZero() {
				bar(id+" never started", "crit", s.created, end(s))
				continue
			}
			bar(id+" starting", "", s.created, s.started)
			tag := "active"
			if s.failed {
				tag = "crit"
			}
			bar(id+" running", tag, s.started, end(s))
			if !s.stopping.IsZero() && !s.stopped.IsZero() {
				bar(id+" draining", "done", s.stopping, s.stopped)
			}
		}
	}
	if len(tl.marks) > 0 {
		b.WriteString("    section ECS\n")
		for _, m := range tl.marks {
			fmt.Fprintf(&b, "    %s :milestone, %d, %d\n", mermaidText(m.label), ms(m.at), ms(m.at))
		}
	}
	b.WriteString("```\n")
	return b.String()
}

// mermaidText keeps a label from breaking the gantt syntax (":" separates
// a task's name from its data, "#" and ";" start comments and statements,
// "%" after a token's first character starts a comment in gantt.jison, and
// mermaid reads "%%{…}%%" anywhere in the text as a directive that
// reconfigures the chart).
func mermaidText(s string) string {
	return strings.NewReplacer(":", " ", "#", " ", ";", " ", "%", " ", "\n", " ", "\r", " ").Replace(s)
}
