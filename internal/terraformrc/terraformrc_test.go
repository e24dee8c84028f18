package terraformrc_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/internal/terraformrc"
)

func TestWritePointsAtTheMirrorNamedByTheEnvironment(t *testing.T) {
	mirror := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(terraformrc.EnvMirror, mirror)
	path, err := terraformrc.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `path    = "`+mirror+`"`) {
		t.Errorf("config does not name the mirror %s:\n%s", mirror, b)
	}
	if !strings.Contains(string(b), `exclude = ["registry.terraform.io/hashicorp/*"]`) {
		t.Errorf("config lets hashicorp providers come from the network:\n%s", b)
	}
}

func TestWriteRefusesAMirrorWithoutTheAWSProvider(t *testing.T) {
	t.Setenv(terraformrc.EnvMirror, t.TempDir())
	_, err := terraformrc.Write(t.TempDir())
	if !errors.Is(err, terraformrc.ErrNoMirror) {
		t.Fatalf("Write with an empty mirror: got %v, want ErrNoMirror", err)
	}
}
