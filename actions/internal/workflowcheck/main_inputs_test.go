package workflowcheck

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
)

func TestMainInputs(t *testing.T) {
	yml := filepath.Join("testdata", "good", "actions", "greet", "action.yml")
	matching := []gha.Input{{Name: "name", Required: true}, {Name: "greeting", Default: "hello"}, {Name: "image-map"}}
	cases := []struct {
		name   string
		inputs []gha.Input
		want   []string // substrings, one per expected line
	}{
		{"matching", matching, nil},
		{"default differs", []gha.Input{{Name: "name", Required: true}, {Name: "greeting", Default: "hi"}, {Name: "image-map"}},
			[]string{`input greeting: required false default "hello", the main says false "hi"`}},
		{"main reads an undeclared input", append(slices.Clone(matching), gha.Input{Name: "extra"}),
			[]string{"input extra is parsed by the main but not declared"}},
		{"declared input never read", matching[:2], []string{"input image-map is declared but the main never reads it"}},
		{"required differs", []gha.Input{{Name: "name"}, {Name: "greeting", Default: "hello"}, {Name: "image-map"}},
			[]string{`input name: required true default "", the main says false ""`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := MainInputs(yml, c.inputs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %q, want %d lines %q", got, len(c.want), c.want)
			}
			for i := range got {
				if !strings.Contains(got[i], c.want[i]) {
					t.Errorf("line %d = %q, want it to contain %q", i, got[i], c.want[i])
				}
			}
		})
	}
	if _, err := MainInputs(filepath.Join("testdata", "missing.yml"), matching); err == nil {
		t.Error("a missing action.yml must be an error")
	}
}
