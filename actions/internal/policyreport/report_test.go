package policyreport

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	"github.com/hashicorp/hcl/v2"
)

func findings() []policyrules.Finding {
	return []policyrules.Finding{
		{Rule: "IAM001", Name: "wildcard-action", Severity: policyrules.Error, Role: "module.api.aws_iam_role.task",
			Message: `"s3:*" grants 100 actions`, Range: hcl.Range{Filename: "/ws/infra/main.tf", Start: hcl.Pos{Line: 12, Column: 20}, End: hcl.Pos{Line: 12, Column: 26}}},
		{Rule: "IAM010", Name: "code", Severity: policyrules.Warning, Message: "never called | unused",
			Range: hcl.Range{Filename: "/ws/infra/main.tf", Start: hcl.Pos{Line: 13, Column: 5}}},
	}
}

func TestJSONHasOneObjectPerFindingWithItsFields(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, Relative(findings(), "/ws")); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d objects", len(got))
	}
	for _, k := range []string{"rule", "severity", "file", "line", "column", "role", "message"} {
		if _, ok := got[0][k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, got[0])
		}
	}
	if got[0]["file"] != "infra/main.tf" || got[0]["line"] != float64(12) || got[0]["column"] != float64(20) {
		t.Errorf("location %v", got[0])
	}
}

func TestSARIFIsVersion210WithRulesAndRegions(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, Relative(findings(), "/ws"), "test"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string } `json:"artifactLocation"`
						Region           struct {
							StartLine, StartColumn int
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Tool.Driver.Rules) != len(policyrules.All()) {
		t.Fatalf("SARIF header wrong: %s", b.String()[:200])
	}
	r := log.Runs[0].Results
	if len(r) != 2 || r[0].Level != "error" || r[1].Level != "warning" {
		t.Fatalf("results %+v", r)
	}
	loc := r[0].Locations[0].PhysicalLocation
	if loc.ArtifactLocation.URI != "infra/main.tf" || loc.Region.StartLine != 12 || loc.Region.StartColumn != 20 {
		t.Errorf("location %+v", loc)
	}
}

func TestGitHubWritesAnnotationsAndASummary(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	env := map[string]string{"GITHUB_STEP_SUMMARY": summary}
	var out bytes.Buffer
	r := gha.NewRunner(func(k string) string { return env[k] }, &out)
	if err := GitHub(r, Relative(findings(), "/ws")); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "::error col=20,file=infra/main.tf,line=12") || !strings.Contains(s, "::warning col=5,file=infra/main.tf,line=13") {
		t.Errorf("annotations:\n%s", s)
	}
	md, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(md), "1 error(s), 1 warning(s)") || !strings.Contains(string(md), `never called \| unused`) {
		t.Errorf("summary %q %v", md, err)
	}
}

func TestTextNamesFileLineColumnAndRule(t *testing.T) {
	var b bytes.Buffer
	Text(&b, Relative(findings(), "/ws"), Summary{})
	if !strings.HasPrefix(b.String(), "infra/main.tf:12:20: error: ") || !strings.Contains(b.String(), "[IAM001 wildcard-action]") {
		t.Errorf("text: %s", b.String())
	}
}

func suppressedFindings() []policyrules.Finding {
	fs := findings()
	fs[0].Suppressed = "reviewed in #42"
	return fs
}

// A suppressed finding stays in SARIF, marked as suppressed in the source
// with its justification, so code scanning shows it as dismissed.
func TestSARIFMarksSuppressedFindings(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, Relative(suppressedFindings(), "/ws"), "dev"); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID       string `json:"ruleId"`
				Suppressions []struct {
					Kind          string `json:"kind"`
					Justification string `json:"justification"`
				} `json:"suppressions"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	rs := log.Runs[0].Results
	if len(rs) != 2 || len(rs[0].Suppressions) != 1 || rs[0].Suppressions[0].Kind != "inSource" ||
		rs[0].Suppressions[0].Justification != "reviewed in #42" || len(rs[1].Suppressions) != 0 {
		t.Errorf("results %+v", rs)
	}
}

// The text report ends with what was checked, and a suppressed error is
// counted as suppressed, not as an error.
func TestTextSummaryLine(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, Relative(suppressedFindings(), "/ws"), Summary{Roles: 3, Documents: 5, ResourcePolicies: 2, Unresolved: 1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := "0 error(s), 1 warning(s), 1 suppressed; checked 3 roles, 5 policy documents, 2 resource policies; 1 values unresolved"
	if lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	if !strings.Contains(lines[0], "suppressed error") || !strings.Contains(lines[0], "(reason: reviewed in #42)") {
		t.Errorf("suppressed line %q", lines[0])
	}
}
