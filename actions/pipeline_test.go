package actions_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// TestPipelineChainsTheActionsAsTheRunnerWould runs the main job (make demo,
// ./demo/pipeline) end to end
// (build-push → policy-check on the plan → terraform apply → deploy, each
// action's main run with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) and
// checks what each action reported, not just the exit code.
func TestPipelineChainsTheActionsAsTheRunnerWould(t *testing.T) {
	if testing.Short() {
		t.Skip("the pipeline applies Terraform to moto and runs real tasks (minutes)")
	}
	for _, tool := range []string{"moto_server", "terraform"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not on PATH: .ci/run installs it", tool)
			}
			t.Skipf("SKIPPING: %s not on PATH", tool)
		}
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "pipeline")
	build := exec.Command("go", "build", "-o", bin, "./demo/pipeline")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./demo/pipeline: %v\n%s", err, out)
	}
	// -keep leaves the run directory (outputs, summaries, logs) in tmp,
	// which the test removes.
	cmd := exec.CommandContext(context.Background(), bin, "-keep")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	log, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pipeline failed (%v):\n%s", err, log)
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, "conveyor-pipeline-*"))
	if len(dirs) != 1 {
		t.Fatalf("want one kept pipeline directory, got %q", dirs)
	}
	dir := dirs[0]

	for _, rev := range []string{"v1", "v2"} {
		out, err := gha.ReadOutputs(filepath.Join(dir, "build-"+rev+".out"))
		if err != nil {
			t.Fatal(err)
		}
		var images map[string]string
		if err := json.Unmarshal([]byte(out["image-map"]), &images); err != nil {
			t.Fatalf("build-push %s image-map output %q: %v", rev, out["image-map"], err)
		}
		for _, svc := range catalog.Names() {
			if ref := images[svc]; !strings.Contains(ref, "/conveyor/"+svc+"@sha256:") || !strings.HasSuffix(ref, out["digest-"+svc]) {
				t.Errorf("build-push %s: image-map[%s] = %q, digest-%s = %q", rev, svc, ref, svc, out["digest-"+svc])
			}
		}
		summary, _ := os.ReadFile(filepath.Join(dir, "build-"+rev+".md"))
		for _, svc := range catalog.Names() {
			if !strings.Contains(string(summary), svc) || !strings.Contains(string(summary), "sha256:") {
				t.Errorf("build-push %s summary lacks %s and its digest:\n%s", rev, svc, summary)
			}
		}
	}

	out, err := gha.ReadOutputs(filepath.Join(dir, "deploy.out"))
	if err != nil {
		t.Fatal(err)
	}
	var verdicts map[string]string
	if err := json.Unmarshal([]byte(out["verdicts"]), &verdicts); err != nil {
		t.Fatalf("deploy verdicts output %q: %v", out["verdicts"], err)
	}
	if len(verdicts) != 3 || out["result"] != "success" {
		t.Errorf("deploy outputs: verdicts %v, result %q; want three services, success", verdicts, out["result"])
	}
	for svc, v := range verdicts {
		if v != "SUCCEEDED" {
			t.Errorf("deploy verdict for %s = %s, want SUCCEEDED", svc, v)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(dir, "deploy-summary.md"))
	if strings.Count(string(summary), "SUCCEEDED") < 3 {
		t.Errorf("deploy summary does not show three SUCCEEDED verdicts:\n%s", summary)
	}
}
