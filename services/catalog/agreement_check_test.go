package catalog_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// forEachShape is the production services as one for_each over a services
// map (the shape the three module blocks are being turned into), with a
// state-dependent argument beside the ones compared.
const forEachShape = `
variable "name" {
  type    = string
  default = "conveyor"
}

variable "services" {
  type = map(object({
    cpu            = number
    memory         = number
    min_count      = number
    max_count      = number
    stop_timeout   = optional(number, 30)
    container_port = optional(number)
  }))
  default = {
    api    = { cpu = API_CPU, memory = 1024, min_count = 2, max_count = 10, container_port = 8080 }
    worker = { cpu = 1024, memory = 2048, min_count = 4, max_count = 20, stop_timeout = 120 }
    dlq    = { cpu = 256, memory = 512, min_count = 1, max_count = 2 }
  }
}

locals {
  services      = { for k, v in var.services : k => merge(v, { family = "${var.name}-${k}", cluster = module.cluster.arn }) }
  service_arns  = [for k, m in module.service : m.service_arn]
}

module "service" {
  source           = "../../modules/ecs-service"
  for_each         = FOR_EACH
  name             = each.value.family
  container_name   = each.key
  cpu              = each.value.cpu
  memory           = each.value.memory
  min_count        = each.value.min_count
  max_count        = each.value.max_count
  stop_timeout     = each.value.stop_timeout
  container_port   = each.value.container_port
  target_group_arn = each.key == "api" ? module.alb.target_group_arn : null
}
`

func writeTF(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTerraformComparisonReadsBothShapesAndNamesTheDifference(t *testing.T) {
	root := testenv.RepoRoot(t)
	toy := catalog.Service{Name: "toy", Package: "./services/toy", CPU: 256, Memory: 512, MinCount: 1, MaxCount: 1, StopTimeout: 5 * time.Second}
	for _, tc := range []struct {
		name string
		dir  string
		svcs []catalog.Service
		want []string // substrings, one problem each; none: agreement
	}{
		{name: "the production module blocks", dir: filepath.Join(root, "infra", "environments", "production"), svcs: catalog.Services},
		{name: "for_each over a services map", svcs: catalog.Services,
			dir: writeTF(t, strings.NewReplacer("API_CPU", "512", "FOR_EACH", "local.services").Replace(forEachShape))},
		{name: "for_each, api's cpu changed", svcs: catalog.Services,
			dir:  writeTF(t, strings.NewReplacer("API_CPU", "1024", "FOR_EACH", "local.services").Replace(forEachShape)),
			want: []string{`main.tf:28["api"]: service api: cpu is 1024 in the Terraform, 512 in services/catalog`}},
		{name: "for_each over module outputs", svcs: catalog.Services,
			dir: writeTF(t, strings.NewReplacer("API_CPU", "512", "FOR_EACH", "module.x.services").Replace(forEachShape)),
			want: []string{"for_each of module service cannot be read without Terraform state",
				`no ECS service for "api"`, `no ECS service for "dlq"`, `no ECS service for "worker"`}},
		{name: "a catalogue entry the Terraform lacks", dir: filepath.Join(root, "infra", "environments", "production"),
			svcs: append(append([]catalog.Service{}, catalog.Services...), toy),
			want: []string{`no ECS service for "toy"`}},
		{name: "a Terraform service the catalogue lacks", dir: filepath.Join(root, "infra", "environments", "production"),
			svcs: catalog.Services[:2],
			want: []string{`ECS service "worker" is not in services/catalog`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := terraformAgrees(tc.dir, tc.svcs)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(got, "\n"), len(tc.want), tc.want)
			}
			for _, w := range tc.want {
				if !containsOne(got, w) {
					t.Errorf("no problem says %q; got:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// TestAFourthServiceIsNamedInEveryFileThatListsServices adds a catalogue
// entry the repository does not have and expects a difference reported in
// every file that keeps a list of the services.
func TestAFourthServiceIsNamedInEveryFileThatListsServices(t *testing.T) {
	root := testenv.RepoRoot(t)
	toy := catalog.Service{Name: "toy", Package: "./services/toy", CPU: 256, Memory: 512, MinCount: 1, MaxCount: 1, StopTimeout: 5 * time.Second,
		Calls: []catalog.Call{{Service: "sqs", Operation: "ReceiveMessage", Action: "sqs:ReceiveMessage", Resource: catalog.Queue, Why: "toy"}}}
	got := agreement(root, append(append([]catalog.Service{}, catalog.Services...), toy))
	t.Logf("differences:\n%s", strings.Join(got, "\n"))
	for _, w := range []string{
		`no ECS service for "toy"`,
		`no role with code = "toy"`,
		"no execution role for toy",
		filepath.Join("infra", "environments", "production", "main.tf") + ":",
		filepath.Join("policies", "conveyor.hcl") + ":",
		filepath.Join(".github", "workflows", "deploy.yml") + ":",
		filepath.Join(".github", "workflows", "rollback.yml") + ":",
		filepath.Join("actions", "build-push", "action.yml") + ":",
		filepath.Join("bench", "buildpush.sh") + ":",
	} {
		if !containsOne(got, w) {
			t.Errorf("no difference mentions %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, p := range got {
		if !strings.Contains(p, "toy") {
			t.Errorf("a difference that is not about the new service: %s", p)
		}
	}
}

func TestContractComparisonNamesAMissingGrant(t *testing.T) {
	root := testenv.RepoRoot(t)
	svcs := append([]catalog.Service{}, catalog.Services...)
	for i, s := range svcs {
		if s.Name == "api" {
			s.Calls = append(append([]catalog.Call{}, s.Calls...), catalog.Call{Service: "sqs", Operation: "GetQueueAttributes", Action: "sqs:GetQueueAttributes", Resource: catalog.Queue})
			svcs[i] = s
		}
	}
	got, err := contractAgrees(filepath.Join(root, "policies"), svcs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0], "conveyor.hcl:") || !strings.Contains(got[0], "sqs:GetQueueAttributes") {
		t.Errorf("problems %q; want one naming conveyor.hcl and sqs:GetQueueAttributes", got)
	}
}

func containsOne(ps []string, sub string) bool {
	for _, p := range ps {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}
