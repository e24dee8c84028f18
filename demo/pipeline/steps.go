package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/conveyor-dev/conveyor/services/catalog"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// buildTools builds the actions the pipeline runs, as commands.
func (p *pipeline) buildTools(ctx context.Context, names ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		out[n] = filepath.Join(p.dir, "bin", n)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out[n], "./actions/"+n)
		cmd.Dir = p.root
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./actions/%s: %w\n%s", n, err, b)
		}
	}
	p.logf("built the actions as commands: %s", strings.Join(names, ", "))
	return out, nil
}

// release is one version of the images: container name → repo@sha256.
type release map[string]string

// buildPush runs the build-push action for this machine's platform (the
// tasks run here) and reads the digests back from the registry.
func (p *pipeline) buildPush(ctx context.Context, bin, registry, rev string) (release, error) {
	cmd := exec.CommandContext(ctx, bin, "--repository-prefix", registry+"/conveyor", "--platforms", runtime.GOOS+"/"+runtime.GOARCH,
		"--revision", rev, "--source-date-epoch", "1767225600", "--working-directory", p.root, "--registry-auth", "docker")
	cmd.Env = append(os.Environ(), "GITHUB_OUTPUT="+filepath.Join(p.dir, "build-"+rev+".out"), "GITHUB_STEP_SUMMARY="+filepath.Join(p.dir, "build-"+rev+".md"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("build-push %s: %w\n%s", rev, err, out.String())
	}
	r := release{}
	var names []string
	for _, svc := range catalog.Names() {
		ref, err := name.ParseReference(registry + "/conveyor/" + svc + ":" + rev)
		if err != nil {
			return nil, err
		}
		desc, err := remote.Head(ref, remote.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("build-push %s reported success but %s is not in the registry: %w", rev, ref, err)
		}
		r[svc] = registry + "/conveyor/" + svc + "@" + desc.Digest.String()
		names = append(names, fmt.Sprintf("%s %s", svc, desc.Digest.String()[:19]))
	}
	p.logf("%s pushed: %s", rev, strings.Join(names, ", "))
	return r, nil
}

// infra is the Terraform working copy and its plan.
type infra struct {
	tf       *tfexec.Terraform
	dir      string // the copied environments/local
	policies string // the copied contract
	plan     string // binary plan file
	planJSON string // terraform show -json of it
	planned  *tfjson.StateValues
}

// plan copies infra/ and policies/ (Terraform writes state and .terraform
// next to the configuration; the checkout stays clean), then init, plan and
// show -json.
func (p *pipeline) plan(ctx context.Context, w *world) (*infra, error) {
	work := filepath.Join(p.dir, "tf")
	for _, d := range []string{"infra", "policies"} {
		if err := copyTree(filepath.Join(p.root, d), filepath.Join(work, d)); err != nil {
			return nil, err
		}
	}
	tfBin, err := exec.LookPath("terraform")
	if err != nil {
		return nil, fmt.Errorf("terraform CLI not found on PATH: install Terraform 1.11 (this machine's image ships it)")
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	if _, err := os.Stat(env["TF_CLI_CONFIG_FILE"]); env["TF_CLI_CONFIG_FILE"] == "" || err != nil {
		rc := filepath.Join(p.dir, "terraformrc")
		cmd := exec.CommandContext(ctx, filepath.Join(p.root, "scripts", "terraformrc.sh"))
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/terraformrc.sh (the offline provider mirror config): %w", err)
		}
		if err := os.WriteFile(rc, b, 0o644); err != nil {
			return nil, err
		}
		env["TF_CLI_CONFIG_FILE"] = rc
	}
	for _, kv := range w.moto.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	in := &infra{dir: filepath.Join(work, "infra", "environments", "local"), policies: filepath.Join(work, "policies"),
		plan: filepath.Join(p.dir, "local.tfplan"), planJSON: filepath.Join(p.dir, "plan.json")}
	if in.tf, err = tfexec.NewTerraform(in.dir, tfBin); err != nil {
		return nil, err
	}
	if err := in.tf.SetEnv(tfexec.CleanEnv(env)); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(p.dir, "terraform.log"))
	if err != nil {
		return nil, err
	}
	p.onCleanup(func() { logFile.Close() })
	in.tf.SetStdout(logFile)
	in.tf.SetStderr(logFile)
	p.logf("terraform init (offline provider mirror)")
	if err := in.tf.Init(ctx); err != nil {
		return nil, fmt.Errorf("terraform init in infra/environments/local: %w (log: %s)", err, logFile.Name())
	}
	p.logf("terraform plan against moto %s", w.moto.URL)
	if _, err := in.tf.Plan(ctx, tfexec.Out(in.plan), tfexec.Var("aws_endpoint="+w.moto.URL)); err != nil {
		return nil, fmt.Errorf("terraform plan in infra/environments/local: %w (log: %s)", err, logFile.Name())
	}
	plan, err := in.tf.ShowPlanFile(ctx, in.plan)
	if err != nil {
		return nil, fmt.Errorf("terraform show -json: %w", err)
	}
	in.planned = plan.PlannedValues
	b, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(in.planJSON, b, 0o644); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, rc := range plan.ResourceChanges {
		if rc.Change != nil {
			for _, a := range rc.Change.Actions {
				counts[string(a)]++
			}
		}
	}
	p.logf("plan: %v", counts)
	return in, nil
}

// policyCheck runs the policy-check action on the configuration, the
// contract and the services' code, and on the plan's exact IAM values, as
// the workflow does. On this first apply of a fresh world the role policies
// are "known after apply": the plan check reports them as pending (IAM008
// warnings) and the HCL check covers their shape.
func (p *pipeline) policyCheck(ctx context.Context, bin string, in *infra) error {
	cmd := exec.CommandContext(ctx, bin, "--contract", in.policies, "--code", filepath.Join(p.root, "services"),
		"--plan-json", in.planJSON, "--format", "text", in.dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Println(indent(strings.TrimSpace(out.String())))
	if err != nil {
		return fmt.Errorf("policy-check found violations or failed (%v): nothing is applied", err)
	}
	p.logf("policy-check passed")
	return nil
}

// outputs are what the pipeline needs from the applied infrastructure.
type outputs struct {
	Cluster  string
	Services map[string]string // api|worker|dlq → ECS service name
	// Settings are the aws_ecs_service values moto does not keep (it drops
	// the circuit breaker and the grace period, so even the state read back
	// from it lacks them), read from the plan that was applied.
	Settings map[string]serviceSettings // by ECS service name
}

type serviceSettings struct {
	breaker, rollback bool
	grace             *int32
	minPct, maxPct    int32
}

// ecsSettings walks planned values for aws_ecs_service resources.
func ecsSettings(vals *tfjson.StateValues) map[string]serviceSettings {
	out := map[string]serviceSettings{}
	if vals == nil || vals.RootModule == nil {
		return out
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Type != "aws_ecs_service" {
				continue
			}
			v := r.AttributeValues
			name, _ := v["name"].(string)
			var ss serviceSettings
			if g, ok := num(v["health_check_grace_period_seconds"]); ok && g > 0 {
				ss.grace = aws.Int32(int32(g))
			}
			if f, ok := num(v["deployment_minimum_healthy_percent"]); ok {
				ss.minPct = int32(f)
			}
			if f, ok := num(v["deployment_maximum_percent"]); ok {
				ss.maxPct = int32(f)
			}
			if cbs, ok := v["deployment_circuit_breaker"].([]any); ok && len(cbs) > 0 {
				cb, _ := cbs[0].(map[string]any)
				ss.breaker, _ = cb["enable"].(bool)
				ss.rollback, _ = cb["rollback"].(bool)
			}
			out[name] = ss
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(vals.RootModule)
	return out
}

func (p *pipeline) apply(ctx context.Context, in *infra) (outputs, error) {
	var out outputs
	p.logf("terraform apply (moto creates the SQS queues slowly: about half a minute each)")
	if err := in.tf.Apply(ctx, tfexec.DirOrPlan(in.plan)); err != nil {
		return out, fmt.Errorf("terraform apply: %w (log: %s)", err, filepath.Join(p.dir, "terraform.log"))
	}
	o, err := in.tf.Output(ctx)
	if err != nil {
		return out, fmt.Errorf("terraform output: %w", err)
	}
	if err := json.Unmarshal(o["cluster_name"].Value, &out.Cluster); err != nil {
		return out, fmt.Errorf("output cluster_name: %w", err)
	}
	if err := json.Unmarshal(o["service_names"].Value, &out.Services); err != nil {
		return out, fmt.Errorf("output service_names: %w", err)
	}
	out.Settings = ecsSettings(in.planned)
	var keys []string
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	p.logf("applied; outputs: %s; cluster %s, services %v", strings.Join(keys, ", "), out.Cluster, out.Services)
	return out, nil
}

// deploy runs the deploy action against the ECS stand-in, streaming its log,
// and returns its exit code and step summary.
func (p *pipeline) deploy(ctx context.Context, bin string, w *world, out outputs, r release) (int, string, error) {
	images, _ := json.Marshal(map[string]string(r))
	var svcs []string
	for _, k := range catalog.Names() {
		svcs = append(svcs, out.Services[k])
	}
	summary := filepath.Join(p.dir, "deploy-summary.md")
	cmd := exec.CommandContext(ctx, bin, "--image-map", string(images), "--cluster", out.Cluster, "--services", strings.Join(svcs, ","),
		"--timeout", "10m", "--poll-interval", "2s", "--git-sha", "v2",
		"--health-check-time", w.lb.TargetGroup().Interval.String(), "--deregistration-delay", w.lb.TargetGroup().DeregistrationDelay.String())
	cmd.Env = append(w.standin.Env(), "PATH="+os.Getenv("PATH"), "HOME="+p.dir,
		"GITHUB_OUTPUT="+filepath.Join(p.dir, "deploy.out"), "GITHUB_STEP_SUMMARY="+summary)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Println("    | " + sc.Text())
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return 0, "", fmt.Errorf("run deploy: %w", err)
		}
		code = ee.ExitCode()
	}
	b, _ := os.ReadFile(summary)
	return code, string(b), nil
}

// num reads a number from state JSON (terraform-json decodes numbers as
// json.Number).
func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// copyTree copies a directory, leaving out Terraform's working files.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() && (d.Name() == ".terraform" || strings.HasPrefix(d.Name(), ".")) && rel != "." {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasPrefix(d.Name(), "terraform.tfstate") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
