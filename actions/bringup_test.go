package actions_test

// Bring-up: the production composition (infra/environments/production, not
// local) applied to moto from an empty account by bootstrap.yml's own steps,
// in its order, then the services rolled out to SUCCEEDED by the deploy
// action on the ECS rollout stand-in.
//
// What differs from a run on GitHub, each for a stated reason:
//   - endpoints: one override file in a copy of infra/ aims the aws provider
//     and the S3 backend at moto; nothing else in the composition changes;
//   - the manual step of the README (the OIDC provider) and the account's
//     certificate are made through the SDK, as an administrator would;
//   - third-party steps (checkout, setup-go, setup-terraform,
//     configure-aws-credentials) are what this machine already has: the
//     repository, Go, Terraform and moto's credentials in the environment;
//   - TF_VAR_enable_autoscaling=false: moto 5.2.1 does not implement
//     Application Auto Scaling's ListTagsForResource, which the provider
//     calls after creating a scalable target;
//   - images go to an in-process OCI registry (moto serves no registry), and
//     ECS runs on the stand-in (moto never progresses a deployment): the
//     services Terraform created in moto are copied into it before deploy.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin/standintest"
	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/terraformrc"
)

// ghContext is what the workflow expressions of one run evaluate against.
type ghContext struct {
	vars  map[string]string
	env   map[string]string // the workflow's env, evaluated
	sha   string
	ref   string
	repo  string
	temp  string
	needs map[string]map[string]string // job -> outputs
	steps map[string]map[string]string // this job's step id -> outputs
}

var (
	exprRe       = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)
	varsOrRe     = regexp.MustCompile(`^vars\.(\w+)\s*\|\|\s*'([^']*)'$`)
	varsEmptyRe  = regexp.MustCompile(`^vars\.(\w+)\s*==\s*''$`)
	varsEqRe     = regexp.MustCompile(`^vars\.(\w+)\s*==\s*'([^']*)'$`)
	needsOutExpr = regexp.MustCompile(`^needs\.([\w-]+)\.outputs\.([\w-]+)$`)
	stepsOutExpr = regexp.MustCompile(`^steps\.([\w-]+)\.outputs\.([\w-]+)$`)
	refEqRe      = regexp.MustCompile(`^github\.ref\s*(==|!=)\s*'([^']*)'$`)
	formatExpr   = regexp.MustCompile(`^format\('([^']*)',\s*env\.(\w+)\)$`)
)

// eval evaluates the expressions conveyor's workflows use; any other fails
// the test rather than being guessed.
func (c *ghContext) eval(t *testing.T, where, s string) string {
	t.Helper()
	return exprRe.ReplaceAllStringFunc(s, func(m string) string {
		e := exprRe.FindStringSubmatch(m)[1]
		switch {
		case strings.HasPrefix(e, "vars.") && !strings.ContainsAny(e, " |="):
			return c.vars[strings.TrimPrefix(e, "vars.")]
		case strings.HasPrefix(e, "env."):
			return c.env[strings.TrimPrefix(e, "env.")]
		case e == "github.sha":
			return c.sha
		case e == "github.repository":
			return c.repo
		case e == "github.server_url":
			return "https://github.com"
		case e == "github.run_id":
			return "1"
		case e == "runner.temp":
			return c.temp
		}
		if m := refEqRe.FindStringSubmatch(e); m != nil {
			return fmt.Sprint((c.ref == m[2]) == (m[1] == "=="))
		}
		if m := varsOrRe.FindStringSubmatch(e); m != nil {
			if v := c.vars[m[1]]; v != "" {
				return v
			}
			return m[2]
		}
		if m := varsEmptyRe.FindStringSubmatch(e); m != nil {
			return fmt.Sprint(c.vars[m[1]] == "")
		}
		if m := varsEqRe.FindStringSubmatch(e); m != nil {
			return fmt.Sprint(c.vars[m[1]] == m[2])
		}
		if m := needsOutExpr.FindStringSubmatch(e); m != nil {
			return c.needs[m[1]][m[2]]
		}
		if m := stepsOutExpr.FindStringSubmatch(e); m != nil {
			return c.steps[m[1]][m[2]]
		}
		if m := formatExpr.FindStringSubmatch(e); m != nil {
			return strings.ReplaceAll(m[1], "{0}", c.env[m[2]])
		}
		t.Fatalf("%s: the test does not evaluate ${{ %s }}", where, e)
		return ""
	})
}

// jobRun runs one job of a workflow: run: steps with bash in dir, local
// actions through runCompositeIn, third-party steps as described at the top.
type jobRun struct {
	t       *testing.T
	wf      *yaml.Node
	ctx     *ghContext
	dir     string   // the workspace the run: steps see (the infra copy)
	baseEnv []string // credentials and endpoints: what configure-aws-credentials would set
	outputs map[string]map[string]string
}

func (j *jobRun) run(name string) map[string]string {
	t := j.t
	t.Helper()
	job := job(j.wf, name)
	if job == nil {
		t.Fatalf("bootstrap.yml: no job %s", name)
	}
	if _, cond := get(job, "if"); cond != nil && j.ctx.eval(t, name+" if", cond.Value) == "false" {
		t.Fatalf("bootstrap.yml: job %s would be skipped (if: %s)", name, cond.Value)
	}
	j.ctx.temp = t.TempDir()
	// Each job starts from a fresh checkout: nothing Terraform left behind.
	if err := os.RemoveAll(filepath.Join(j.dir, "infra", "environments", "production", ".terraform")); err != nil {
		t.Fatal(err)
	}
	steps := map[string]map[string]string{}
	j.ctx.steps = steps
	_, list := get(job, "steps")
	for i, st := range items(list) {
		where := fmt.Sprintf("bootstrap.yml job %s step %d", name, i)
		_, id := get(st, "id")
		_, u := get(st, "uses")
		_, run := get(st, "run")
		_, with := get(st, "with")
		switch {
		case u != nil && strings.HasPrefix(u.Value, "./actions/"):
			inputs := map[string]string{}
			for _, kv := range pairs(with) {
				inputs[kv.K.Value] = j.ctx.eval(t, where, kv.V.Value)
			}
			t.Logf("%s: %s", where, u.Value)
			c := runCompositeIn(t, strings.TrimPrefix(u.Value, "./actions/"), inputs, j.ctx.temp, j.env(nil)...)
			if c.failed {
				t.Fatalf("%s: %s failed:\n%s", where, u.Value, c.log)
			}
			if id != nil {
				steps[id.Value] = c.outputs
			}
		case u != nil:
			// checkout, setup-go, setup-terraform, configure-aws-credentials:
			// this machine already has what they provide.
		case run != nil:
			_, env := get(st, "env")
			extra := map[string]string{}
			for _, kv := range pairs(env) {
				extra[kv.K.Value] = j.ctx.eval(t, where+" env", kv.V.Value)
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", run.Value)
			cmd.Dir = j.dir
			cmd.Env = append(j.env(extra), "RUNNER_TEMP="+j.ctx.temp, "GITHUB_SHA="+j.ctx.sha,
				"GITHUB_STEP_SUMMARY="+filepath.Join(j.ctx.temp, "summary.md"), "GITHUB_OUTPUT="+filepath.Join(j.ctx.temp, "run-output"))
			t.Logf("%s: %s", where, firstLine(run.Value))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s failed: %v\n%s", where, err, out)
			}
		}
	}
	outs := map[string]string{}
	_, o := get(job, "outputs")
	for _, kv := range pairs(o) {
		m := regexp.MustCompile(`^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$`).FindStringSubmatch(kv.V.Value)
		if m == nil {
			t.Fatalf("bootstrap.yml job %s output %s: not one step output", name, kv.K.Value)
		}
		outs[kv.K.Value] = steps[m[1]][m[2]]
	}
	j.ctx.needs[name] = outs
	return outs
}

// env is the process environment, the workflow's env, the credentials and
// the step's own env, in increasing precedence.
func (j *jobRun) env(step map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	for k, v := range j.ctx.env {
		env = append(env, k+"="+v)
	}
	env = append(env, j.baseEnv...)
	for k, v := range step {
		env = append(env, k+"="+v)
	}
	return env
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// endpointsOverride aims the provider and the backend at moto. An override
// file replaces the backend block whole, so it repeats backend.tf's
// settings; the bucket still comes from -backend-config (TF_CLI_ARGS_init).
const endpointsOverride = `# Written by actions/bringup_test.go: every AWS endpoint is moto.
terraform {
  backend "s3" {
    key                         = "conveyor/production.tfstate"
    region                      = "us-east-1"
    encrypt                     = true
    use_lockfile                = true
    endpoints                   = { s3 = "%[1]s" }
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
  }
}

provider "aws" {
  s3_use_path_style       = true
  skip_metadata_api_check = true
  endpoints {
    acm            = "%[1]s"
    appautoscaling = "%[1]s"
    cloudwatch     = "%[1]s"
    dynamodb       = "%[1]s"
    ec2            = "%[1]s"
    ecr            = "%[1]s"
    ecs            = "%[1]s"
    elbv2          = "%[1]s"
    iam            = "%[1]s"
    logs           = "%[1]s"
    s3             = "%[1]s"
    sqs            = "%[1]s"
    sts            = "%[1]s"
  }
}
`

func TestBootstrapBringsUpProductionFromAnEmptyAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("applies the production composition to moto and rolls it out (several minutes)")
	}
	lookTool(t, "terraform", "make tools")
	lookTool(t, "aws", "the AWS CLI (>= 1.29 or 2.13, which read AWS_ENDPOINT_URL): bootstrap.yml's scripts call it")
	rc, err := terraformrc.Write(t.TempDir())
	if err != nil {
		missingTool(t, "a Terraform provider mirror", err.Error())
	}
	moto := motoserver.Start(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A copy of infra/ and scripts/ with the one endpoints file added.
	work := t.TempDir()
	for _, d := range []string{"infra", "scripts"} {
		if err := os.CopyFS(filepath.Join(work, d), os.DirFS(filepath.Join("..", d))); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.WalkDir(filepath.Join(work, "infra"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == ".terraform" {
			os.RemoveAll(p)
			return filepath.SkipDir
		}
		return nil
	})
	prod := filepath.Join(work, "infra", "environments", "production")
	if err := os.WriteFile(filepath.Join(prod, "endpoints_override.tf"), []byte(fmt.Sprintf(endpointsOverride, moto.URL)), 0o644); err != nil {
		t.Fatal(err)
	}

	// The account: empty but for what the README's manual step makes.
	name := fmt.Sprintf("bu%06d", rand.IntN(1_000_000)) // moto may be shared: names of our own
	oidc, err := iam.NewFromConfig(cfg).CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://token.actions.githubusercontent.com/" + name), ClientIDList: []string{"sts.amazonaws.com"},
		ThumbprintList: []string{"6938fd4d98bab03faadb97b34396831e3780aea1"}})
	if err != nil {
		t.Fatal(err)
	}
	certCmd := exec.Command("aws", "acm", "request-certificate", "--domain-name", name+".conveyor.test", "--query", "CertificateArn", "--output", "text")
	certCmd.Env = append(os.Environ(), moto.Env()...)
	certOut, err := certCmd.Output()
	if err != nil {
		t.Fatalf("aws acm request-certificate: %v", err)
	}
	certARN := strings.TrimSpace(string(certOut))
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	regHost := strings.TrimPrefix(reg.URL, "http://")

	wf := loadWorkflow(t, "bootstrap.yml")
	gh := &ghContext{
		vars: map[string]string{
			"AWS_REGION": "us-east-1", "ECR_REGISTRY": regHost, "CONVEYOR_NAME": name,
			"CONVEYOR_STATE_BUCKET":    name + "-state",
			"CONVEYOR_CERTIFICATE_ARN": certARN,
			"AWS_OIDC_PROVIDER_ARN":    aws.ToString(oidc.OpenIDConnectProviderArn),
			"AWS_BOOTSTRAP_ROLE_ARN":   "arn:aws:iam::123456789012:role/conveyor-bootstrap",
			"AWS_BUILD_ROLE_ARN":       "arn:aws:iam::123456789012:role/" + name + "-build",
			"AWS_DEPLOY_ROLE_ARN":      "arn:aws:iam::123456789012:role/" + name + "-deploy",
		},
		env:   map[string]string{},
		sha:   "0123456789abcdef0123456789abcdef01234567",
		ref:   "refs/heads/main",
		repo:  "acme/conveyor",
		needs: map[string]map[string]string{},
	}
	_, wfEnv := get(wf, "env")
	for _, kv := range pairs(wfEnv) {
		gh.env[kv.K.Value] = gh.eval(t, "env "+kv.K.Value, kv.V.Value)
	}
	base := append(moto.Env(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		// The one composition difference, for moto (see the top of the file).
		"TF_VAR_enable_autoscaling=false")
	jr := &jobRun{t: t, wf: wf, ctx: gh, dir: work, baseEnv: base}
	// 1. foundation: state bucket, repositories, build role; no service.
	jr.runJob("foundation")
	ecsAPI := ecs.NewFromConfig(cfg)
	if svcs, err := ecsAPI.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String(name)}); err == nil && len(svcs.ServiceArns) > 0 {
		t.Fatalf("foundation created services %v before any image exists", svcs.ServiceArns)
	}
	if _, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name + "-deploy")}); err == nil {
		t.Errorf("foundation created the deploy role; it names the services, which come later")
	}

	// 2. images: build-push of this commit to the registry.
	images := jr.runJob("images")["image-map"]
	var imageMap map[string]string
	if err := json.Unmarshal([]byte(images), &imageMap); err != nil || len(imageMap) != 3 {
		t.Fatalf("images: image-map %q (%v)", images, err)
	}
	for svc := range imageMap {
		if _, err := crane.Digest(regHost + "/" + name + "/" + svc + ":" + gh.sha); err != nil {
			t.Fatalf("images: %s/%s:%s not in the registry: %v", name, svc, gh.sha, err)
		}
	}

	// 3. services: plan, policy-check, apply. Every task definition names
	// the commit's tag, which step 2 pushed.
	jr.runJob("services")
	svcs, err := ecsAPI.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String(name)})
	if err != nil || len(svcs.ServiceArns) != 3 {
		t.Fatalf("services: moto has %v (%v), want three services", svcs, err)
	}
	ds, err := ecsAPI.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(name), Services: svcs.ServiceArns})
	if err != nil {
		t.Fatal(err)
	}

	// 4. deploy: the services, copied into the stand-in, rolled out.
	standin, err := ecsstandin.New(ecsstandin.Options{Scenario: ecsstandin.Scenario{ThrottleRate: -1}, Speed: standintest.Speed})
	if err != nil {
		t.Fatal(err)
	}
	if err := standin.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standin.Close() })
	scfg, err := standin.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sAPI := ecs.NewFromConfig(scfg)
	if _, err := sAPI.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range ds.Services {
		td, err := ecsAPI.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
		if err != nil {
			t.Fatal(err)
		}
		d := td.TaskDefinition
		for _, c := range d.ContainerDefinitions {
			if !strings.HasSuffix(aws.ToString(c.Image), "/"+name+"/"+aws.ToString(c.Name)+":"+gh.sha) {
				t.Errorf("task definition %s names image %s, not this commit's %s/%s:%s", aws.ToString(d.TaskDefinitionArn), aws.ToString(c.Image), name, aws.ToString(c.Name), gh.sha)
			}
		}
		reg, err := sAPI.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: d.Family, ContainerDefinitions: d.ContainerDefinitions,
			Cpu: d.Cpu, Memory: d.Memory, NetworkMode: d.NetworkMode, RequiresCompatibilities: d.RequiresCompatibilities,
			TaskRoleArn: d.TaskRoleArn, ExecutionRoleArn: d.ExecutionRoleArn})
		if err != nil {
			t.Fatal(err)
		}
		in := &ecs.CreateServiceInput{Cluster: aws.String(name), ServiceName: s.ServiceName, TaskDefinition: reg.TaskDefinition.TaskDefinitionArn,
			DesiredCount: aws.Int32(s.DesiredCount), LaunchType: ecstypes.LaunchTypeFargate, LoadBalancers: s.LoadBalancers,
			DeploymentConfiguration: &ecstypes.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200),
				// moto drops the circuit breaker Terraform sets; the design's.
				DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: true}}}
		if _, err := sAPI.CreateService(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	jr.baseEnv = append(jr.baseEnv, "AWS_ENDPOINT_URL_ECS="+standin.URL)
	out := jr.runJob("deploy")
	var verdicts map[string]string
	if err := json.Unmarshal([]byte(out["verdicts"]), &verdicts); err != nil || len(verdicts) != 3 {
		t.Fatalf("deploy verdicts %q (%v), want three", out["verdicts"], err)
	}
	for svc, v := range verdicts {
		if v != "SUCCEEDED" {
			t.Errorf("deploy: %s %s, want SUCCEEDED", svc, v)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(gh.temp, "summary.md"))
	if !strings.Contains(string(summary), "bootstrap of "+gh.sha[:12]) || strings.Count(string(summary), "SUCCEEDED") < 3 {
		t.Errorf("the bootstrap summary does not show the three verdicts:\n%s", summary)
	}
}

// runJob is run with the job's name in the log.
func (j *jobRun) runJob(name string) map[string]string {
	j.t.Helper()
	j.t.Logf("== job %s", name)
	return j.run(name)
}
