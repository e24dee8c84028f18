package infraapply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
)

func TestStatefulFindsDestroysAndReplaces(t *testing.T) {
	rc := func(addr, typ string, actions ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Type: typ, Mode: tfjson.ManagedResourceMode,
			Change: &tfjson.Change{Actions: actions, ReplacePaths: []any{[]any{"hash_key"}}}}
	}
	p := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		rc("module.data.aws_dynamodb_table.tasks", "aws_dynamodb_table", tfjson.ActionDelete, tfjson.ActionCreate),
		rc("module.data.aws_sqs_queue.dlq", "aws_sqs_queue", tfjson.ActionDelete),
		rc("module.data.aws_sqs_queue.tasks", "aws_sqs_queue", tfjson.ActionUpdate),
		rc(`module.ecr.aws_ecr_repository.this["api"]`, "aws_ecr_repository", tfjson.ActionCreate, tfjson.ActionDelete),
		rc("module.api.aws_ecs_service.this", "aws_ecs_service", tfjson.ActionDelete, tfjson.ActionCreate),
	}}
	v, allowed := Stateful(p, []string{"module.data.aws_sqs_queue.dlq"})
	if len(v) != 2 || v[0].Address != "module.data.aws_dynamodb_table.tasks" || v[1].Address != `module.ecr.aws_ecr_repository.this["api"]` {
		t.Fatalf("violations %+v", v)
	}
	if !strings.Contains(v[0].String(), "replace (destroy and re-create) it and lose its data; forced by a change to hash_key") {
		t.Errorf("message %q", v[0].String())
	}
	if len(allowed) != 1 || allowed[0] != "module.data.aws_sqs_queue.dlq" {
		t.Errorf("allowed %v", allowed)
	}
	if v, _ := Stateful(p, []string{"aws_dynamodb_table", "aws_ecr_repository", "aws_sqs_queue"}); len(v) != 0 {
		t.Errorf("allowing by type: %+v", v)
	}
}

// terraformEnv finds terraform and writes the offline CLI configuration
// (scripts/terraformrc.sh) into a temp dir.
func terraformEnv(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs terraform and moto")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		msg := "terraform CLI not found on PATH: install Terraform 1.11 with its provider mirror"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	out, err := exec.Command("bash", "../../../scripts/terraformrc.sh").Output()
	if err != nil {
		t.Fatalf("scripts/terraformrc.sh: %v", err)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string]string{"TF_CLI_CONFIG_FILE": rc, "CHECKPOINT_DISABLE": "1"}
}

func copyFixture(t *testing.T) string {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/stateful/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestApplyStopsBeforeReplacingATable(t *testing.T) {
	env := terraformEnv(t)
	m := motoserver.Start(t)
	ctx := context.Background()
	dir := copyFixture(t)
	name := fmt.Sprintf("infraapply-%d", rand.IntN(1_000_000))
	vars := []string{"endpoint=" + m.URL, "name=" + name}
	var log bytes.Buffer

	// The plan check runs on the exact plan and can stop it.
	checked := 0
	_, err := Apply(ctx, Options{Dir: dir, Vars: vars, Env: env, Log: &log, PlanCheck: func(_ context.Context, p *tfjson.Plan) error {
		checked = len(p.ResourceChanges)
		return errors.New("policy says no")
	}})
	if err == nil || !strings.Contains(err.Error(), "policy says no") || checked != 2 {
		t.Fatalf("plan check: err %v, saw %d changes\n%s", err, checked, log.String())
	}
	cfg, err := m.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err == nil {
		t.Fatal("the table exists although the plan check refused the plan")
	}

	res, err := Apply(ctx, Options{Dir: dir, Vars: vars, Env: env, Log: &log})
	if err != nil {
		t.Fatalf("first apply: %v\n%s", err, log.String())
	}
	if res.Create != 2 {
		t.Errorf("first apply: %s", res)
	}

	res, err = Apply(ctx, Options{Dir: dir, Vars: append(vars, "hash_key=pk"), Env: env, Log: &log})
	if !errors.Is(err, ErrStatefulDestroy) || !strings.Contains(err.Error(), "aws_dynamodb_table.tasks: the plan would replace") {
		t.Fatalf("replacing the table: err %v (%v)", err, res)
	}
	out, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil || aws.ToString(out.Table.KeySchema[0].AttributeName) != "id" {
		t.Fatalf("the table must be untouched after the stop: %v %v", out, err)
	}
}
