package policycheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/tfeval"
)

// TestFixtures runs the check on every folder of testdata/fixtures and
// compares its findings, exactly, with the folder's want.txt: one line per
// finding, "RULE FILE:LINE SEVERITY" (FILE relative to the fixture, and
// " suppressed" after a suppressed one), or "exit 2 TEXT" for input the
// check must refuse with TEXT in the error. A fixture with an init/ folder
// gets it as .terraform/modules, as `terraform init` would leave it.
func TestFixtures(t *testing.T) {
	root := filepath.Join("testdata", "fixtures")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join(root, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatalf("fixture without want.txt: %v", err)
			}
			want := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(want) == 1 && want[0] == "" {
				want = nil
			}
			if _, err := os.Stat(filepath.Join(dir, "init")); err == nil {
				dir = installed(t, dir)
			}
			rep, err := Run(context.Background(), Options{Dirs: []string{dir}, NoContract: true})
			if len(want) == 1 && strings.HasPrefix(want[0], "exit 2") {
				text := strings.TrimSpace(strings.TrimPrefix(want[0], "exit 2"))
				if err == nil || !strings.Contains(err.Error(), text) {
					t.Fatalf("want an input error containing %q, got %v", text, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range rep.Findings {
				rel, err := filepath.Rel(dir, f.Range.Filename)
				if err != nil {
					rel = f.Range.Filename
				}
				line := fmt.Sprintf("%s %s:%d %s", f.Rule, filepath.ToSlash(rel), f.Range.Start.Line, f.Severity)
				if f.Suppressed != "" {
					line += " suppressed"
				}
				got = append(got, line)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				var msgs []string
				for _, f := range rep.Findings {
					msgs = append(msgs, fmt.Sprintf("  %s:%d: %s %s", filepath.Base(f.Range.Filename), f.Range.Start.Line, f.Rule, f.Message))
				}
				t.Errorf("findings\n  %s\nwant\n  %s\nmessages:\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), strings.Join(msgs, "\n"))
			}
		})
	}
}

// installed copies a fixture into a temporary root whose init/ becomes
// .terraform/modules.
func installed(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(rel, "init") {
			rel = filepath.Join(".terraform", "modules", strings.TrimPrefix(strings.TrimPrefix(rel, "init"), string(filepath.Separator)))
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// An empty directory is refused with a typed error, so a caller can tell
// "nothing to check" from "checked, clean".
func TestNoTerraformFilesIsATypedError(t *testing.T) {
	_, err := Run(context.Background(), Options{Dirs: []string{t.TempDir()}, NoContract: true})
	var nf *tfeval.NoFilesError
	if !errors.As(err, &nf) {
		t.Fatalf("want a NoFilesError, got %v", err)
	}
}

// The same fault in three instances of a module is one finding that lists
// the other two instances.
func TestOneFindingPerPlaceListsTheInstances(t *testing.T) {
	rep, err := Run(context.Background(), Options{Dirs: []string{filepath.Join("testdata", "fixtures", "instances")}, NoContract: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("want one finding, got %d: %+v", len(rep.Findings), rep.Findings)
	}
	f := rep.Findings[0]
	got := append([]string{f.Role}, f.Instances...)
	slices.Sort(got)
	want := []string{`module.svc["a"].aws_iam_role.r`, `module.svc["b"].aws_iam_role.r`, `module.svc["c"].aws_iam_role.r`}
	if !slices.Equal(got, want) {
		t.Errorf("role and instances %q, want %q", got, want)
	}
}

// A suppression keeps the finding, with its reason, out of the verdict.
func TestSuppressedFindingKeepsItsReasonAndDoesNotFail(t *testing.T) {
	rep, err := Run(context.Background(), Options{Dirs: []string{filepath.Join("testdata", "fixtures", "suppression")}, NoContract: true})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, f := range rep.Findings {
		if f.Suppressed != "" {
			reasons = append(reasons, f.Suppressed)
		}
	}
	if len(reasons) != 1 || !strings.Contains(reasons[0], "reviewed in #42") || rep.Stats.Suppressed != 1 {
		t.Errorf("suppressed reasons %q (stats %d), want the one with its reason", reasons, rep.Stats.Suppressed)
	}
	var kept []Finding
	for _, f := range rep.Findings {
		if f.Suppressed != "" {
			kept = append(kept, f)
		}
	}
	if HasErrors(kept) {
		t.Error("a suppressed error must not fail the check")
	}
}
