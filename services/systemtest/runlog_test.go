package systemtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// run is one run of a task, read from a worker's structured log: from its
// "task started" line to its "task ended" line, or, if the worker died
// first, to the worker's death.
type run struct {
	task, owner, proc string
	attempt           int
	start, end        time.Time
}

// logLine is the part of a service's JSON log line the checks read.
type logLine struct {
	Time    time.Time `json:"time"`
	Msg     string    `json:"msg"`
	TaskID  string    `json:"task_id"`
	Owner   string    `json:"owner"`
	Attempt int       `json:"attempt"`
}

// parseRuns reads the runs in one worker's log; died is when the process
// ended (zero while it runs: open runs last until now).
func parseRuns(proc, logs string, died time.Time) []run {
	open := map[string]*run{}
	var runs []run
	for _, l := range strings.Split(logs, "\n") {
		var ll logLine
		if !strings.HasPrefix(l, "{") || json.Unmarshal([]byte(l), &ll) != nil || ll.Owner == "" {
			continue
		}
		switch ll.Msg {
		case "task started":
			open[ll.Owner] = &run{task: ll.TaskID, owner: ll.Owner, proc: proc, attempt: ll.Attempt, start: ll.Time}
		case "task ended":
			if r, ok := open[ll.Owner]; ok {
				r.end = ll.Time
				runs = append(runs, *r)
				delete(open, ll.Owner)
			}
		}
	}
	end := died
	if end.IsZero() {
		end = time.Now()
	}
	for _, r := range open {
		r.end = end
		runs = append(runs, *r)
	}
	return runs
}

// overlaps returns every pair of runs of one task that overlapped in time.
// Log times have millisecond precision, so runs that touch within a
// millisecond are not counted.
func overlaps(runs []run) []string {
	byTask := map[string][]run{}
	for _, r := range runs {
		byTask[r.task] = append(byTask[r.task], r)
	}
	var out []string
	for task, rs := range byTask {
		sort.Slice(rs, func(i, j int) bool { return rs[i].start.Before(rs[j].start) })
		for i := 1; i < len(rs); i++ {
			for j := 0; j < i; j++ {
				if rs[i].start.Before(rs[j].end.Add(-time.Millisecond)) {
					out = append(out, fmt.Sprintf("task %s: run %s (%s, attempt %d, %s..%s) overlaps run %s (%s, attempt %d, %s..%s)",
						task, rs[i].owner, rs[i].proc, rs[i].attempt, rs[i].start.Format(time.StampMilli), rs[i].end.Format(time.StampMilli),
						rs[j].owner, rs[j].proc, rs[j].attempt, rs[j].start.Format(time.StampMilli), rs[j].end.Format(time.StampMilli)))
				}
			}
		}
	}
	return out
}
