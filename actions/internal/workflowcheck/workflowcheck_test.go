package workflowcheck

// The checker is table-tested against fixtures under testdata/: testdata/good
// is a small repository that must come out clean, and each file under
// testdata/bad is one violation laid over it, its offending lines marked with
// a "# want: rule" comment.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestCheckerAcceptsGoodFixture(t *testing.T) {
	findings, err := Run(filepath.Join("testdata", "good"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Errorf("testdata/good/%s", f)
	}
}

// badCases maps each fixture under testdata/bad to the rules it breaks.
var badCases = []struct {
	fixture string
	rules   []string
}{
	{"workflows/pull-request-target.yml", []string{"trigger"}},
	{"workflows/pull-request-target-list.yml", []string{"trigger"}},
	{"workflows/unpinned-tag.yml", []string{"pin"}},
	{"workflows/short-sha.yml", []string{"pin"}},
	{"workflows/branch-ref.yml", []string{"pin"}},
	{"workflows/sha-without-version.yml", []string{"pin"}},
	{"workflows/sha-with-bare-number.yml", []string{"pin"}},
	{"workflows/docker-tag.yml", []string{"pin"}},
	{"workflows/no-top-permissions.yml", []string{"permissions"}},
	{"workflows/top-write-all.yml", []string{"permissions"}},
	{"workflows/top-id-token.yml", []string{"permissions"}},
	{"workflows/job-write-all.yml", []string{"permissions"}},
	{"workflows/contents-write.yml", []string{"permissions"}},
	{"workflows/pull-requests-write.yml", []string{"permissions"}},
	{"workflows/id-token-without-oidc.yml", []string{"permissions"}},
	{"workflows/security-events-without-sarif.yml", []string{"permissions"}},
	{"workflows/oidc-without-id-token.yml", []string{"oidc"}},
	{"workflows/aws-static-keys.yml", []string{"aws-credentials"}},
	{"workflows/aws-role-from-secret.yml", []string{"aws-credentials"}},
	{"workflows/run-event-expression.yml", []string{"run-expression"}},
	{"workflows/run-inputs-expression.yml", []string{"run-expression"}},
	{"workflows/run-head-ref.yml", []string{"run-expression"}},
	{"workflows/github-script-expression.yml", []string{"run-expression"}},
	{"workflows/unknown-local-action.yml", []string{"local-action"}},
	{"workflows/unknown-reusable-workflow.yml", []string{"local-action"}},
	{"workflows/undeclared-input.yml", []string{"action-inputs"}},
	{"workflows/missing-required-input.yml", []string{"action-inputs"}},
	{"workflows/undeclared-step-output.yml", []string{"outputs"}},
	{"workflows/unknown-step-id.yml", []string{"outputs"}},
	{"workflows/undeclared-job-output.yml", []string{"outputs"}},
	{"workflows/needs-not-listed.yml", []string{"outputs"}},
	{"workflows/local-action-before-checkout.yml", []string{"setup"}},
	{"workflows/local-action-without-go.yml", []string{"setup"}},
	{"workflows/checkout-persisting-token.yml", []string{"checkout-credentials"}},
	{"workflows/job-output-wired-to-other-output.yml", []string{"wiring"}},
	{"workflows/input-wired-to-other-output.yml", []string{"wiring"}},
	{"actions/input-not-in-env/action.yml", []string{"input-env"}},
	{"actions/input-env-misnamed/action.yml", []string{"input-env"}},
	{"actions/input-env-not-plain/action.yml", []string{"input-env"}},
	{"actions/undeclared-input-reference/action.yml", []string{"input-env"}},
	{"actions/input-without-description/action.yml", []string{"input-description"}},
	{"actions/output-without-description/action.yml", []string{"input-description"}},
	{"actions/run-inputs-expression/action.yml", []string{"run-expression"}},
	{"actions/unpinned-uses/action.yml", []string{"pin"}},
	{"actions/output-from-unknown-step/action.yml", []string{"outputs"}},
	{"actions/run-without-shell/action.yml", []string{"shell"}},
	{"actions/colon-in-plain-scalar/action.yml", []string{"parse"}},
	{"actions/go-build-without-cd/action.yml", []string{"action-path"}},
	{"actions/go-build-cd-elsewhere/action.yml", []string{"action-path"}},
	{"actions/output-wired-to-other-output/action.yml", []string{"wiring"}},
}

// TestEveryRuleHasAFixture: a rule that no bad fixture triggers is a rule
// nothing proves can fire.
func TestEveryRuleHasAFixture(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range badCases {
		for _, r := range c.rules {
			covered[r] = true
		}
	}
	names := map[string]bool{}
	for _, r := range Rules {
		if names[r.Name()] {
			t.Errorf("two rules are named %q", r.Name())
		}
		names[r.Name()] = true
		if !covered[r.Name()] {
			t.Errorf("rule %s (%s) has no fixture under testdata/bad", r.Name(), r.Summary())
		}
		_, a := r.(ActionRule)
		_, w := r.(WorkflowRule)
		_, j := r.(JobRule)
		_, s := r.(StepRule)
		if !a && !w && !j && !s {
			t.Errorf("rule %s implements no visit (Action, Workflow, Job or Step): it never runs", r.Name())
		}
	}
}

// TestCheckerRejectsEachViolation lays each bad fixture over testdata/good
// and expects exactly the findings its "# want: rule" markers name, on those
// lines, and nothing anywhere else.
func TestCheckerRejectsEachViolation(t *testing.T) {
	// Every fixture on disk is in the table, so none is silently unused.
	listed := map[string]bool{}
	for _, c := range badCases {
		listed[c.fixture] = true
	}
	bad := filepath.Join("testdata", "bad")
	err := filepath.WalkDir(bad, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if rel, _ := filepath.Rel(bad, p); !listed[filepath.ToSlash(rel)] {
				t.Errorf("fixture %s is not in the table", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range badCases {
		t.Run(c.fixture, func(t *testing.T) {
			src := filepath.Join(bad, filepath.FromSlash(c.fixture))
			body, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			// workflows/x.yml -> .github/workflows/x.yml; actions/x/action.yml stays.
			dst := c.fixture
			if strings.HasPrefix(dst, "workflows/") {
				dst = ".github/" + dst
			}
			root := t.TempDir()
			if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", "good"))); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(dst)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(dst)), body, 0o644); err != nil {
				t.Fatal(err)
			}

			want := wantMarkers(string(body))
			if len(want) == 0 {
				t.Fatalf("%s marks no line with # want: rule", src)
			}
			for _, w := range want {
				if rule := strings.Fields(w)[1]; !slices.Contains(c.rules, rule) {
					t.Errorf("%s: marker %q names a rule outside the table's %v", src, w, c.rules)
				}
			}
			findings, err := Run(root)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				if f.File != dst {
					t.Errorf("finding outside the fixture: %s", f)
					continue
				}
				got = append(got, fmt.Sprintf("%d %s", f.Line, f.Rule))
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: findings (line rule) = %q, want %q", src, got, want)
				for _, f := range findings {
					t.Logf("  %s", f)
				}
			}
		})
	}
}

var wantRe = regexp.MustCompile(`want:\s*([a-z-]+(?:\s*,\s*[a-z-]+)*)`)

// wantMarkers returns "line rule" for each rule named by a "want:" marker.
func wantMarkers(body string) []string {
	var out []string
	for i, line := range strings.Split(body, "\n") {
		hash := strings.Index(line, "#")
		if hash < 0 {
			continue
		}
		if m := wantRe.FindStringSubmatch(line[hash:]); m != nil {
			for _, rule := range strings.Split(m[1], ",") {
				out = append(out, fmt.Sprintf("%d %s", i+1, strings.TrimSpace(rule)))
			}
		}
	}
	sort.Strings(out)
	return out
}
