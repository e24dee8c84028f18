package infra_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/terraformrc"
)

// terraformBinary returns the terraform CLI, skipping the test loudly when
// it is missing, except under CI, where a missing tool is a failure.
func terraformBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("terraform tests are slow; skipped under -short")
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		msg := "terraform not found on PATH: install Terraform 1.11 and its provider mirror (.ci/run expects both)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	return bin
}

// cliConfig returns a Terraform CLI config that installs the aws provider
// from the machine's mirror: the one `make` wrote if TF_CLI_CONFIG_FILE names
// it, else a fresh one in a temporary directory.
func cliConfig(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TF_CLI_CONFIG_FILE"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := terraformrc.Write(t.TempDir())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip("SKIPPING: " + err.Error())
	}
	return p
}

// copyInfra copies infra/ (this directory) into a temporary directory,
// resolving the local environment's symlinks and leaving out anything a
// developer's own `terraform init` left behind, so tests never write into
// the work tree and the modules' relative sources still resolve.
func copyInfra(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "infra")
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && (name == ".terraform") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(name, ".tfstate") || strings.HasSuffix(name, ".tfstate.backup") || name == ".terraform.lock.hcl" || strings.HasSuffix(name, ".go") {
			return nil
		}
		target := filepath.Join(dst, path)
		info, err := os.Stat(path) // follows symlinks
		if err != nil {
			return fmt.Errorf("copy infra: %w", err)
		}
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(path, target)
	})
	if err != nil {
		t.Fatalf("copy infra/ to %s: %v", dst, err)
	}
	return dst
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// terraform returns a terraform-exec handle on dir whose child processes see
// the mirror's CLI config and, when moto is given, moto's credentials.
func terraform(t *testing.T, bin, dir string, moto *motoserver.Server) *tfexec.Terraform {
	t.Helper()
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		t.Fatalf("terraform-exec on %s: %v", dir, err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env = tfexec.CleanEnv(env)
	env["TF_CLI_CONFIG_FILE"] = cliConfig(t)
	env["CHECKPOINT_DISABLE"] = "1"
	if moto != nil {
		for _, kv := range moto.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	if err := tf.SetEnv(env); err != nil {
		t.Fatalf("terraform environment: %v", err)
	}
	return tf
}

// uniqueName gives each run its own resource names, so runs can share one
// moto. It starts with a letter and stays within the name variable's 24.
func uniqueName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "cv" + hex.EncodeToString(b)
}

func TestTerraformIsFormatted(t *testing.T) {
	bin := terraformBinary(t)
	tf := terraform(t, bin, ".", nil)
	ok, files, err := tf.FormatCheck(context.Background(), tfexec.Dir("."), tfexec.Recursive(true))
	if err != nil {
		t.Fatalf("terraform fmt -check -recursive infra: %v", err)
	}
	if !ok {
		t.Errorf("terraform fmt -check -recursive infra: not formatted: %v (run `terraform fmt -recursive infra`)", files)
	}
}

// The local world must run the production composition, not a look-alike: its
// main.tf, variables.tf and outputs.tf are symlinks to production's.
func TestLocalEnvironmentComposesProductionsModules(t *testing.T) {
	for _, f := range []string{"main.tf", "variables.tf", "outputs.tf"} {
		link := filepath.Join("environments", "local", f)
		got, err := os.Readlink(link)
		if err != nil {
			t.Errorf("%s: want a symlink to ../production/%s: %v", link, f, err)
			continue
		}
		if want := filepath.Join("..", "production", f); got != want {
			t.Errorf("%s points at %s, want %s", link, got, want)
		}
	}
}

func TestEnvironmentsValidateOffline(t *testing.T) {
	bin := terraformBinary(t)
	root := copyInfra(t)
	for _, env := range []string{"production", "local"} {
		t.Run(env, func(t *testing.T) {
			ctx := context.Background()
			tf := terraform(t, bin, filepath.Join(root, "environments", env), nil)
			// No backend: production's S3 state is not reachable offline, and
			// validate does not need it.
			if err := tf.Init(ctx, tfexec.Backend(false)); err != nil {
				t.Fatalf("terraform init -backend=false in environments/%s: %v", env, err)
			}
			out, err := tf.Validate(ctx)
			if err != nil {
				t.Fatalf("terraform validate in environments/%s: %v", env, err)
			}
			if !out.Valid {
				for _, d := range out.Diagnostics {
					where := ""
					if d.Range != nil {
						where = fmt.Sprintf("%s:%d: ", d.Range.Filename, d.Range.Start.Line)
					}
					t.Errorf("environments/%s: %s%s: %s", env, where, d.Summary, d.Detail)
				}
				t.Fatalf("environments/%s is not valid (%d errors)", env, out.ErrorCount)
			}
		})
	}
}

// Each bad input must be refused by its own validation block, with its
// message, before anything is created. Terraform reports every failed
// validation of a run, so one plan carries most bad inputs (the subnet list
// both overlaps a public subnet and leaves the VPC). Two get plans of their
// own, because Terraform skips checks downstream of a failed one: the
// services are one module block with for_each, and once the api instance's
// min_count fails, every check that reads var.min_count is skipped, the dlq
// instance's max_count check included.
func TestBadVariablesAreRejectedByValidation(t *testing.T) {
	bin := terraformBinary(t)
	moto := motoserver.Start(t)
	root := copyInfra(t)
	dir := filepath.Join(root, "environments", "local")
	tf := terraform(t, bin, dir, moto)
	ctx := context.Background()
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init in environments/local: %v", err)
	}
	type want struct{ input, says string }
	for i, c := range []struct {
		bad   []string
		wants []want
	}{
		{
			bad: []string{
				`private_subnet_cidrs = ["10.0.1.128/25", "10.1.4.0/24"]`,
				`api = { min_count = 0 }`,
				`worker = { stop_timeout = 121 }`,
				`alarm_email = "oncall"`,
			},
			wants: []want{
				{"a private subnet overlapping a public one", "Subnet CIDR blocks overlap"},
				{"a subnet outside the VPC", "Every subnet must lie inside vpc_cidr 10.0.0.0/16"},
				{"an api count below one", "min_count must be a whole number of at least 1, got 0"},
				{"a worker stopTimeout above Fargate's 120 s", "stop_timeout must be between 2 and 120 seconds (Fargate's maximum is 120), got 121"},
				{"an alarm address that is not one", "email must be an email address or null, got oncall"},
			},
		},
		{
			bad:   []string{`dlq = { min_count = 2, max_count = 1 }`},
			wants: []want{{"a dlq max below its min", "max_count (1) must be at least min_count (2)"}},
		},
		{
			// The services' for_each reads it, so it too would hide the
			// module.service checks.
			bad:   []string{`liveness_max_age_seconds = 10`},
			wants: []want{{"a liveness max-age shorter than a healthy worker's longest quiet gap", "liveness_max_age_seconds must be at least 70"}},
		},
	} {
		bad := strings.Join(c.bad, "\n")
		file := filepath.Join(t.TempDir(), fmt.Sprintf("bad%d.tfvars", i))
		if err := os.WriteFile(file, []byte(bad+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := tf.Plan(ctx, tfexec.VarFile(file), tfexec.Refresh(false),
			tfexec.Var("aws_endpoint="+moto.URL), tfexec.Var("name="+uniqueName(t)))
		if err == nil {
			t.Fatalf("terraform plan with bad variables was accepted:\n%s", bad)
		}
		// The CLI wraps long messages; compare with line breaks folded.
		got := strings.Join(strings.Fields(err.Error()), " ")
		for _, w := range c.wants {
			if !strings.Contains(got, w.says) {
				t.Errorf("%s: terraform plan's errors do not say %q", w.input, w.says)
			}
		}
		if n := strings.Count(got, "Invalid value for variable"); n != len(c.wants) {
			t.Errorf("terraform plan with\n%s\nreported %d variable validation errors, want %d", bad, n, len(c.wants))
		}
		if t.Failed() {
			t.Logf("terraform plan's output:\n%v", err)
		}
	}
}
