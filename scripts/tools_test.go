package scripts_test

// First contact on a machine without Terraform or moto: `make tools` (which
// `make demo` and `make test` run first) must reach the install step, say
// what it installs, and use what it installed. Registries other than the Go
// module proxy may be unreachable where this runs, so where an install fails
// the test asserts the attempt and the message; where it succeeds, that the
// next run uses the installed tool.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/internal/terraformrc"
)

// strippedPath returns a PATH holding only the commands the scripts and
// make need, none of them terraform or moto_server.
func strippedPath(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	link := func(name, target string) {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"bash", "sh", "env", "dirname", "mkdir", "mv", "rm", "cat", "find", "head", "grep", "make", "git", "uname", "tar"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("SKIPPING: %s not on PATH", name)
		}
		link(name, p)
	}
	link("go", filepath.Join(runtime.GOROOT(), "bin", "go"))
	// The interpreter itself, not a version manager's shim that needs its
	// own tools on PATH.
	py, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("SKIPPING: python3: %v", err)
	}
	link("python3", strings.TrimSpace(string(py)))
	for _, tool := range []string{"terraform", "moto_server"} {
		if _, err := os.Stat(filepath.Join(bin, tool)); err == nil {
			t.Fatalf("test bug: %s in the stripped PATH", tool)
		}
	}
	return bin
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = ".."
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// baseEnv is the test's environment with PATH replaced and the cache moved
// to a temporary directory.
func baseEnv(t *testing.T, path, cache string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "CONVEYOR_CACHE=") && !strings.HasPrefix(kv, "MAKEFLAGS=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "PATH="+path, "CONVEYOR_CACHE="+cache), extra...)
}

func TestMakeToolsInstallsTerraformWhenMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hc-install and reaches for the Terraform release (a minute or more)")
	}
	path := strippedPath(t)
	cache := t.TempDir()
	env := baseEnv(t, path, cache)
	out, err := run(t, env, filepath.Join(path, "make"), "tools")
	t.Logf("make tools:\n%s", out)
	if !strings.Contains(out, "terraform not on PATH: installing Terraform 1.11.4 into "+filepath.Join(cache, "bin")+" with hashicorp/hc-install v0.10.0") {
		t.Fatalf("make tools did not announce the Terraform install (err %v)", err)
	}
	if err != nil {
		// No release site here: the failure must say what failed and what to do.
		if !strings.Contains(out, "installing Terraform 1.11.4 with hc-install failed") || !strings.Contains(out, "put it on PATH") {
			t.Errorf("a failed install must say so and what to do instead")
		}
		if _, statErr := os.Stat(filepath.Join(cache, "bin", "terraform")); statErr == nil {
			t.Errorf("the install failed but left %s behind", filepath.Join(cache, "bin", "terraform"))
		}
		return
	}
	// Installed: the next run uses it instead of installing again.
	out, err = run(t, env, filepath.Join(path, "bash"), "scripts/tools.sh", "terraform")
	if err != nil || !strings.Contains(out, "using "+filepath.Join(cache, "bin", "terraform")) {
		t.Errorf("second run (err %v) did not use the installed Terraform:\n%s", err, out)
	}
}

func TestToolsInstallsMotoIntoAVirtualEnvironmentWhenMissing(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a virtual environment and reaches for the Python package index")
	}
	path := strippedPath(t)
	cache := t.TempDir()
	env := baseEnv(t, path, cache)
	out, err := run(t, env, filepath.Join(path, "bash"), "scripts/tools.sh", "moto")
	t.Logf("tools.sh moto:\n%s", out)
	if !strings.Contains(out, "moto_server not on PATH: installing moto[server]==5.2.1 into the virtual environment "+filepath.Join(cache, "moto")) {
		t.Fatalf("tools.sh did not announce the moto install (err %v)", err)
	}
	if err != nil {
		if !strings.Contains(out, "installing moto[server]==5.2.1 with pip failed") {
			t.Errorf("a failed install must say so")
		}
		if _, statErr := os.Stat(filepath.Join(cache, "moto")); statErr == nil {
			t.Errorf("the install failed but left the half-made environment %s, which the next run would take for a good one", filepath.Join(cache, "moto"))
		}
		return
	}
	out, err = run(t, env, filepath.Join(path, "bash"), "scripts/tools.sh", "moto")
	if err != nil || !strings.Contains(out, "using "+filepath.Join(cache, "moto", "bin", "moto_server")) {
		t.Errorf("second run (err %v) did not use the installed moto:\n%s", err, out)
	}
}

// TestTerraformrcPrefersTheMirror: with a mirror, providers come only from
// it, and terraform init of a root works offline through the written file;
// without one, the configuration leaves installation to the registry and
// says so.
func TestTerraformrcPrefersTheMirror(t *testing.T) {
	mirror, err := terraformrc.FindMirror()
	if err != nil {
		t.Skipf("SKIPPING the mirror half: %v", err)
	}
	cache := t.TempDir()
	env := baseEnv(t, os.Getenv("PATH"), cache, "CONVEYOR_TF_MIRROR="+mirror)
	out, err := run(t, env, "bash", "scripts/tools.sh", "terraformrc")
	if err != nil {
		t.Fatalf("tools.sh terraformrc: %v\n%s", err, out)
	}
	rc, err := os.ReadFile(filepath.Join(cache, "terraformrc"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rc), "filesystem_mirror") || !strings.Contains(string(rc), mirror) {
		t.Errorf("with a mirror the configuration must use it:\n%s", rc)
	}
	if tf, err := exec.LookPath("terraform"); err == nil && !testing.Short() {
		root, _ := filepath.Abs(filepath.Join("..", "infra", "environments", "local"))
		cmd := exec.Command(tf, "-chdir="+root, "init", "-backend=false", "-input=false", "-lockfile=readonly", "-no-color")
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+filepath.Join(cache, "terraformrc"), "TF_DATA_DIR="+t.TempDir())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("terraform init through the mirror configuration: %v\n%s", err, out)
		}
	}

	env = baseEnv(t, os.Getenv("PATH"), cache, "CONVEYOR_TF_MIRROR=none")
	out, err = run(t, env, "bash", "scripts/tools.sh", "terraformrc")
	if err != nil {
		t.Fatalf("tools.sh terraformrc without a mirror: %v\n%s", err, out)
	}
	rc, _ = os.ReadFile(filepath.Join(cache, "terraformrc"))
	if strings.Contains(string(rc), "provider_installation") {
		t.Errorf("without a mirror the configuration must leave installation to the registry:\n%s", rc)
	}
	if !strings.Contains(out, "terraform init will download the aws provider from its registry") {
		t.Errorf("without a mirror the script must say where the provider comes from:\n%s", out)
	}
}
