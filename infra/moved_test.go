package infra_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
)

// replaceAllowed are the only replacements a plan of the current
// configuration against the old state may hold, each with the reason.
// Nothing else may be destroyed.
var replaceAllowed = map[string]string{
	// The container definitions gained a health check and the liveness
	// file's variable; a task definition cannot change, so Terraform
	// registers a new revision. The services ignore task_definition (the
	// pipeline owns rollouts), so nothing running changes.
	`module.service["worker"].aws_ecs_task_definition.this`: "a new revision with the health check; no running task changes",
	`module.service["dlq"].aws_ecs_task_definition.this`:    "a new revision with the health check; no running task changes",
	// The ALB's egress now names the api's security group instead of the
	// VPC's CIDR, which a rule cannot change in place. It must be created
	// before the old one is deleted (checked below), so the ALB never loses
	// its targets.
	"module.alb.aws_vpc_security_group_egress_rule.targets": "egress to the api's security group, created before the VPC-wide rule is deleted",
}

// TestMovingServicesToForEachDestroysNothing applies the configuration as
// it was when the services were three module blocks
// (testdata/before-for-each) to moto, then plans the current configuration
// against that state: every resource of module.api, module.worker and
// module.dlq must be carried to module.service["…"] by the moved blocks,
// and nothing may be destroyed or replaced except replaceAllowed.
func TestMovingServicesToForEachDestroysNothing(t *testing.T) {
	t.Parallel()
	bin := terraformBinary(t)
	moto := motoserver.Start(t)
	ctx := context.Background()
	root := copyInfra(t)
	oldDir := filepath.Join(root, "testdata", "before-for-each", "environments", "local")
	newDir := filepath.Join(root, "environments", "local")
	oldTF := terraform(t, bin, oldDir, moto)
	newTF := terraform(t, bin, newDir, moto)
	name := uniqueName(t)
	vars := []string{"aws_endpoint=" + moto.URL, "name=" + name, "oidc_url=https://token.actions.githubusercontent.com/" + name}
	var applyOpts []tfexec.ApplyOption
	destroyOpts := []tfexec.DestroyOption{tfexec.Refresh(false)}
	planFile := filepath.Join(t.TempDir(), "moved.tfplan")
	planOpts := []tfexec.PlanOption{tfexec.Refresh(false), tfexec.Out(planFile)}
	for _, v := range vars {
		applyOpts = append(applyOpts, tfexec.Var(v))
		destroyOpts = append(destroyOpts, tfexec.Var(v))
		planOpts = append(planOpts, tfexec.Var(v))
	}
	for dir, tf := range map[string]*tfexec.Terraform{"testdata/before-for-each": oldTF, "environments/local": newTF} {
		if err := tf.Init(ctx); err != nil {
			t.Fatalf("terraform init in %s: %v", dir, err)
		}
	}
	// Only the old configuration is ever applied; it destroys what it made.
	t.Cleanup(func() {
		if err := oldTF.Destroy(ctx, destroyOpts...); err != nil {
			t.Errorf("terraform destroy of testdata/before-for-each (%s) on %s: %v", name, moto.URL, err)
		}
	})
	if err := oldTF.Apply(ctx, applyOpts...); err != nil {
		t.Fatalf("terraform apply of testdata/before-for-each (%s) on %s: %v", name, moto.URL, err)
	}
	old, err := oldTF.Show(ctx)
	if err != nil {
		t.Fatalf("terraform show of the old state: %v", err)
	}
	oldAddrs := map[string]bool{}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if r.Mode == tfjson.ManagedResourceMode {
				oldAddrs[r.Address] = true
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(old.Values.RootModule)

	b, err := os.ReadFile(filepath.Join(oldDir, "terraform.tfstate"))
	if err != nil {
		t.Fatalf("read the old state: %v", err)
	}
	if err := os.WriteFile(filepath.Join(newDir, "terraform.tfstate"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newTF.Plan(ctx, planOpts...); err != nil {
		t.Fatalf("terraform plan of environments/local against the old state: %v", err)
	}
	plan, err := newTF.ShowPlanFile(ctx, planFile)
	if err != nil {
		t.Fatalf("terraform show of the plan: %v", err)
	}
	moved := map[string]string{} // old address → new
	var replaced []string
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		if rc.PreviousAddress != "" {
			moved[rc.PreviousAddress] = rc.Address
		}
		if !rc.Change.Actions.Delete() && !rc.Change.Actions.Replace() {
			continue
		}
		if _, ok := replaceAllowed[rc.Address]; ok && rc.Change.Actions.Replace() {
			replaced = append(replaced, rc.Address)
			if rc.Type == "aws_vpc_security_group_egress_rule" && !rc.Change.Actions.CreateBeforeDestroy() {
				t.Errorf("%s: plan %v: the new rule must be created before the old one is deleted", rc.Address, rc.Change.Actions)
			}
			continue
		}
		t.Errorf("%s: plan %v (was %s): the move to module.service must destroy nothing", rc.Address, rc.Change.Actions, rc.PreviousAddress)
	}
	// Every resource of the three old module blocks went to its instance.
	var missing []string
	n := 0
	for addr := range oldAddrs {
		for _, svc := range []string{"api", "worker", "dlq"} {
			prefix := "module." + svc + "."
			if !strings.HasPrefix(addr, prefix) {
				continue
			}
			n++
			want := `module.service["` + svc + `"].` + strings.TrimPrefix(addr, prefix)
			if moved[addr] != want {
				missing = append(missing, addr+" → "+moved[addr]+" (want "+want+")")
			}
		}
	}
	sort.Strings(missing)
	if n == 0 {
		t.Fatal("the old state holds no module.api, module.worker or module.dlq resource: the fixture is not the old configuration")
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d old service resources were not moved to module.service:\n  %s", len(missing), n, strings.Join(missing, "\n  "))
	}
	// And each allowed replacement is really needed: a stale entry would
	// hide nothing, but it would no longer describe the change.
	var want []string
	for a := range replaceAllowed {
		want = append(want, a)
	}
	sort.Strings(want)
	sort.Strings(replaced)
	if !slices.Equal(replaced, want) {
		t.Errorf("replaced %v, want exactly %v", replaced, want)
	}
	t.Logf("%d old service resources moved; replaced (allowed): %v", n, replaced)
}
