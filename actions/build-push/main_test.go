package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/actions/internal/buildpush"
	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// runner runs the action as the GitHub runner would: inputs in INPUT_*
// variables, outputs and summary in files.
type runner struct {
	env     map[string]string
	out     string
	summary string
	log     bytes.Buffer
	stderr  bytes.Buffer
}

func newRunner(t *testing.T, inputs map[string]string) *runner {
	dir := t.TempDir()
	r := &runner{env: map[string]string{
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"GITHUB_REPOSITORY":   "conveyor-dev/conveyor",
		"GITHUB_SERVER_URL":   "https://github.com",
	}}
	for k, v := range inputs {
		r.env[gha.EnvName(k)] = v
	}
	r.out, r.summary = r.env["GITHUB_OUTPUT"], r.env["GITHUB_STEP_SUMMARY"]
	return r
}

// run runs the action and returns its exit code; the code is also kept.
func (r *runner) exit(args ...string) int {
	r.log.Reset()
	r.stderr.Reset()
	return run(context.Background(), args, func(k string) string { return r.env[k] }, &r.log, &r.stderr)
}

// run runs the action; a non-zero exit is an error carrying the log, where
// the action writes its ::error annotation.
func (r *runner) run(args ...string) error {
	if code := r.exit(args...); code != 0 {
		return fmt.Errorf("exit %d: %s%s", code, r.log.String(), r.stderr.String())
	}
	return nil
}

// outputs reads the outputs the action wrote.
func (r *runner) outputs(t *testing.T) map[string]string {
	out, err := gha.ReadOutputs(r.out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const rev = "fedcba9876543210fedcba9876543210fedcba98"

func TestActionPushesAndReportsImageMapDigestsAndSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes the services")
	}
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	defer s.Close()
	prefix := strings.TrimPrefix(s.URL, "http://") + "/conveyor"
	inputs := map[string]string{
		"repository-prefix": prefix,
		"revision":          rev,
		"source-date-epoch": "1767225600",
		"working-directory": testenv.RepoRoot(t),
		"registry-auth":     "docker",
		"cache-dir":         t.TempDir(),
	}
	r := newRunner(t, inputs)
	if err := r.run(); err != nil {
		t.Fatalf("%v\n%s", err, r.log.String())
	}
	outs := r.outputs(t)
	var m map[string]string
	if err := json.Unmarshal([]byte(outs["image-map"]), &m); err != nil {
		t.Fatalf("image-map %q: %v", outs["image-map"], err)
	}
	for _, svc := range catalog.Names() {
		want := prefix + "/" + svc + "@" + outs["digest-"+svc]
		if m[svc] != want || !strings.HasPrefix(outs["digest-"+svc], "sha256:") {
			t.Errorf("%s: image-map %q, digest output %q", svc, m[svc], outs["digest-"+svc])
		}
		ref, err := name.ParseReference(prefix + "/" + svc + ":" + rev)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(ref)
		if err != nil || d.Digest.String() != outs["digest-"+svc] {
			t.Errorf("%s: tag %s: %v %v", svc, rev, d, err)
		}
	}
	sum, _ := os.ReadFile(r.summary)
	if !strings.Contains(string(sum), "| api | linux/amd64, linux/arm64 | `"+outs["digest-api"]+"`") || !strings.Contains(string(sum), "| 3 / 0 |") {
		t.Errorf("summary:\n%s", sum)
	}

	// Run again as a new job would: same commit, nothing to push.
	r2 := newRunner(t, inputs)
	if err := r2.run(); err != nil {
		t.Fatalf("%v\n%s", err, r2.log.String())
	}
	if o2 := r2.outputs(t); o2["image-map"] != outs["image-map"] {
		t.Errorf("rerun image-map %s, first %s", o2["image-map"], outs["image-map"])
	}
	sum2, _ := os.ReadFile(r2.summary)
	if strings.Count(string(sum2), "| 0 / 3 | 0 B |") != 3 {
		t.Errorf("rerun summary:\n%s", sum2)
	}
}

func TestActionWritesOCILayoutWithoutPushing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the services")
	}
	dir := t.TempDir()
	r := newRunner(t, nil)
	err := r.run("--services", "worker", "--push", "false", "--oci-layout", dir, "--revision", rev,
		"--source-date-epoch", "1767225600", "--working-directory", testenv.RepoRoot(t), "--platforms", "linux/amd64")
	if err != nil {
		t.Fatalf("%v\n%s", err, r.log.String())
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	outs := r.outputs(t)
	if len(im.Manifests) < 1 || im.Manifests[0].Digest.String() != outs["digest-worker"] || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "worker:"+rev {
		t.Errorf("layout index %+v, outputs %v", im.Manifests, outs)
	}
}

func TestActionRejectsBadInputBeforeBuilding(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--services", "api,billing", "--repository-prefix", "r.example/c"}, `unknown service(s) ["billing"]: known services are api, dlq, worker`},
		{[]string{"--base-image", "gcr.io/distroless/static:nonroot", "--repository-prefix", "r.example/c"}, "not pinned by digest"},
		{nil, "repository-prefix is required"},
		{[]string{"--push", "false"}, "no oci-layout"},
		{[]string{"--push", "maybe"}, "not a boolean"},
		{[]string{"--repository-prefix", "r.example/c", "--registry-auth", "magic", "--revision", "x", "--source-date-epoch", "1"}, `registry-auth "magic"`},
	} {
		r := newRunner(t, nil)
		code := r.exit(tc.args...)
		if code != 2 || !strings.Contains(r.log.String(), "::error title=build-push::") || !strings.Contains(r.log.String(), tc.want) {
			t.Errorf("%v: exit %d, log %q; want exit 2 and an error annotation with %q", tc.args, code, r.log.String(), tc.want)
		}
		// Every declared output is written on failure too: an empty image
		// map, so no later step deploys a stale one.
		if b, err := os.ReadFile(r.out); err != nil || !strings.Contains(string(b), "image-map<<") || !strings.Contains(string(b), "{}") {
			t.Errorf("%v: rejected inputs must write the empty outputs, got %q (%v)", tc.args, b, err)
		}
	}
}

func TestHelpExitsZeroAndListsEveryInput(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		r := newRunner(t, nil)
		if code := r.exit(arg); code != 0 {
			t.Errorf("%s: exit %d, want 0; log %s", arg, code, r.log.String())
		}
		for _, in := range buildpush.Inputs {
			if !strings.Contains(r.stderr.String(), "-"+in.Name) {
				t.Errorf("%s: usage does not list --%s:\n%s", arg, in.Name, r.stderr.String())
			}
		}
	}
	r := newRunner(t, nil)
	if code := r.exit("--no-such-flag"); code != 2 {
		t.Errorf("--no-such-flag: exit %d, want 2", code)
	}
}

// TestActionYAMLMapsEveryInputAndOutput keeps action.yml and the inputs the
// binary reads in step: every input has a description and is passed as
// INPUT_<NAME>, and every service has a digest output.
func TestActionYAMLMapsEveryInputAndOutput(t *testing.T) {
	raw, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs  map[string]struct{ Description, Default string }
		Outputs map[string]struct{ Description, Value string }
		Runs    struct {
			Using string
			Steps []struct {
				ID  string
				Env map[string]string
				Run string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" || len(a.Runs.Steps) != 2 {
		t.Fatalf("runs: %+v", a.Runs)
	}
	env := a.Runs.Steps[1].Env
	for _, in := range buildpush.Inputs {
		y, ok := a.Inputs[in.Name]
		if !ok || y.Description == "" {
			t.Errorf("input %s missing or undescribed in action.yml", in.Name)
		}
		if y.Default != in.Default {
			t.Errorf("input %s: action.yml default %q, binary default %q", in.Name, y.Default, in.Default)
		}
		if want := "${{ inputs." + in.Name + " }}"; env[gha.EnvName(in.Name)] != want {
			t.Errorf("env %s = %q, want %q", gha.EnvName(in.Name), env[gha.EnvName(in.Name)], want)
		}
	}
	if len(a.Inputs) != len(buildpush.Inputs) || len(env) != len(buildpush.Inputs) {
		t.Errorf("action.yml has %d inputs and %d env entries, the binary reads %d", len(a.Inputs), len(env), len(buildpush.Inputs))
	}
	for _, o := range append([]string{"image-map", "revision"}, func() (d []string) {
		for _, s := range catalog.Names() {
			d = append(d, "digest-"+s)
		}
		return
	}()...) {
		if a.Outputs[o].Value != "${{ steps."+a.Runs.Steps[1].ID+".outputs."+o+" }}" {
			t.Errorf("output %s = %q", o, a.Outputs[o].Value)
		}
	}
}
