package rollout

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ganttLine is what mermaid's gantt lexer (gantt.jison) accepts after
// "gantt": a keyword statement, a section, or a task (text ":" data), where
// "#" and ";" end a statement and a "%" after a token's first character
// starts a comment, so neither may appear in our text.
var ganttLine = []*regexp.Regexp{
	regexp.MustCompile(`^%%[^\n]*$`),
	regexp.MustCompile(`^title\s[^#\n;%]+$`),
	regexp.MustCompile(`^dateFormat x$`),
	regexp.MustCompile(`^axisFormat %H:%M:%S$`),
	regexp.MustCompile(`^section\s[^#:\n;%]+$`),
	regexp.MustCompile(`^[^#:\n;%]+:[^#\n;%]+$`),
}

// keywords start a statement wherever a task's text begins with one
// (the lexer is case-insensitive).
var ganttKeywords = regexp.MustCompile(`(?i)^(gantt|dateformat|inclusiveenddates|topaxis|axisformat|tickinterval|includes|excludes|todaymarker|weekday|title|accdescription|acctitle|accdescr|section|click|call|href)\b`)

func checkGantt(t *testing.T, g string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(g, "\n"), "\n")
	if lines[0] != "```mermaid" || lines[1] != "gantt" || lines[len(lines)-1] != "```" {
		t.Fatalf("not a mermaid gantt block:\n%s", g)
	}
	for _, l := range lines[2 : len(lines)-1] {
		l = strings.TrimSpace(l)
		ok := false
		for _, re := range ganttLine {
			ok = ok || re.MatchString(l)
		}
		if !ok {
			t.Errorf("line breaks the gantt syntax: %q", l)
			continue
		}
		if !strings.HasPrefix(l, "title ") && !strings.HasPrefix(l, "section ") && !strings.HasPrefix(l, "%%") &&
			!strings.HasPrefix(l, "dateFormat ") && !strings.HasPrefix(l, "axisFormat ") && ganttKeywords.MatchString(l) {
			t.Errorf("task text starts with a gantt keyword: %q", l)
		}
	}
}

func TestGanttStaysValidMermaidWithOddNames(t *testing.T) {
	at := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	for _, name := range []string{"conveyor-api", "a%b", "x;y#z", "p: q", "50%", "click me", "section 2", "title%%{init}%%", "a\nb"} {
		t.Run(name, func(t *testing.T) {
			r := &Result{Service: name, Kind: KindDeploy, Verdict: RolledBack, DeploymentID: "ecs-svc/1"}
			for i, id := range []string{"0123456789abcdef0123456789abcdef", "click%3Bfedcba9876543210fedcba98"} {
				r.timeline().observe(types.Task{TaskArn: aws.String("arn:aws:ecs:us-east-1:123456789012:task/c/" + id),
					TaskDefinitionArn: aws.String("arn:aws:ecs:us-east-1:123456789012:task-definition/" + name + ":" + string(rune('1'+i))),
					StartedBy:         aws.String("ecs-svc/1"), LastStatus: aws.String("STOPPED"), StopCode: types.TaskStopCodeEssentialContainerExited,
					CreatedAt: aws.Time(at), StartedAt: aws.Time(at.Add(10 * time.Second)), StoppingAt: aws.Time(at.Add(time.Minute)), StoppedAt: aws.Time(at.Add(70 * time.Second))}, "ecs-svc/1")
			}
			r.timeline().mark(&types.ServiceDeployment{CreatedAt: aws.Time(at), Status: types.ServiceDeploymentStatusRollbackSuccessful, FinishedAt: aws.Time(at.Add(2 * time.Minute)),
				Rollback: &types.Rollback{StartedAt: aws.Time(at.Add(time.Minute))}})
			checkGantt(t, Gantt(r))
		})
	}
}

func TestSummaryTableSurvivesLineBreaksAndPipes(t *testing.T) {
	r := &Result{Service: "conveyor-api", Kind: KindDeploy, Verdict: Failed, Reason: "stopped task t1: container api: exec format error\nat line 2 | pipe",
		Evidence: []string{"stopped task t1 (conveyor-api:2): reason \"line one\nline two\""}}
	s := Summary("conveyor deploy", []*Result{r}, nil, Budget{})
	table := false
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "|---|---|"):
			table = true
		case table && l == "":
			table = false
		case table && (!strings.HasPrefix(l, "| ") || !strings.HasSuffix(l, " |")):
			t.Errorf("a table row broke: %q", l)
		}
	}
	if !strings.Contains(s, "| reason | stopped task t1: container api: exec format error at line 2 \\| pipe |") {
		t.Errorf("reason row missing or mangled:\n%s", s)
	}
	if !strings.Contains(s, "- stopped task t1 (conveyor-api:2): reason \"line one line two\"\n") {
		t.Errorf("evidence bullet broke:\n%s", s)
	}
}
