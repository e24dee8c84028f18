package gha

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlagWinsOverEnvAndDefaultsFill(t *testing.T) {
	inputs := []Input{{Name: "cluster", Required: true}, {Name: "poll-interval", Default: "5s"}, {Name: "services"}}
	env := envOf(map[string]string{"INPUT_CLUSTER": "from-env", "INPUT_SERVICES": " api,\nworker , "})
	v, err := Parse("deploy", []string{"--cluster", "from-flag"}, env, inputs, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("cluster") != "from-flag" || v.String("poll-interval") != "5s" {
		t.Fatalf("got %v", v)
	}
	if got := v.List("services"); strings.Join(got, "|") != "api|worker" {
		t.Fatalf("List = %q", got)
	}
}

func TestParseNamesEveryMissingRequiredInput(t *testing.T) {
	inputs := []Input{{Name: "cluster", Required: true}, {Name: "image-map", Required: true}}
	_, err := Parse("deploy", nil, envOf(nil), inputs, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "cluster, image-map") || !strings.Contains(err.Error(), "INPUT_CLUSTER") {
		t.Fatalf("err = %v", err)
	}
}

func TestSetOutputCannotBeInjectedThroughTheValue(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	r := NewRunner(envOf(map[string]string{"GITHUB_OUTPUT": out}), &bytes.Buffer{})
	evil := "x\nghadelimiter_00\nadmin=true\n_GitHubActionsFileCommandDelimeter_\nEOF"
	if err := r.SetOutput("image-map", evil); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadOutputs(out); err != nil || len(got) != 1 || got["image-map"] != evil {
		t.Fatalf("ReadOutputs = %q, %v; want only image-map = the value", got, err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	head, tail := lines[0], lines[len(lines)-1]
	delim := strings.TrimPrefix(head, "image-map<<")
	if delim == head || tail != delim || strings.Count(string(b), delim) != 2 {
		t.Fatalf("output file not a single heredoc block:\n%s", b)
	}
	if got := strings.Join(lines[1:len(lines)-1], "\n"); got != evil {
		t.Fatalf("value changed: %q", got)
	}
}

func TestAnnotationCarriesFileLineAndEscapesMessage(t *testing.T) {
	var log bytes.Buffer
	r := NewRunner(envOf(nil), &log)
	r.Error(Annotation{File: "infra/iam.tf", Line: 12, Col: 7, Title: "IAM001", Message: "wildcard\naction"})
	got := log.String()
	for _, want := range []string{"::error ", "file=infra/iam.tf", "line=12", "col=7", "title=IAM001", "::wildcard%0Aaction"} {
		if !strings.Contains(got, want) {
			t.Fatalf("annotation %q lacks %q", got, want)
		}
	}
}
