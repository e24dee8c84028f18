package rollout

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
	"github.com/conveyor-dev/conveyor/internal/motoserver"
)

// moto is a third-party implementation of the ECS API: it proves the
// requests rollout sends are well formed. moto never progresses a
// deployment, so this asserts on what it recorded, not on verdicts.
func TestRequestsAreWellFormedAgainstMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto")
	}
	m := motoserver.Start(t)
	ctx := context.Background()
	cfg, err := m.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api := ecs.NewFromConfig(cfg)
	name := fmt.Sprintf("rollout-%d", rand.IntN(1_000_000))
	if _, err := api.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	first, err := api.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(name), Cpu: aws.String("256"), Memory: aws.String("512"), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("api"), Image: aws.String("example/api:1"), Essential: aws.Bool(true),
			Environment: []types.KeyValuePair{{Name: aws.String("CONVEYOR_TABLE"), Value: aws.String("tasks")}}}},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("conveyor")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(name), ServiceName: aws.String(name),
		TaskDefinition: first.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1), LaunchType: types.LaunchTypeFargate}); err != nil {
		t.Fatal(err)
	}
	svcs, err := DescribeAll(ctx, api, name, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + strings.Repeat("ab", 32)
	// moto accepts the UpdateService but keeps its deployment list as it
	// was, so there is no new deployment id to record: Start says so.
	r, err := Start(ctx, api, name, svcs[name], map[string]plan.Image{"api": {Repository: "example/api", Digest: digest}}, "deadbeef", false)
	if !errors.Is(err, ErrNoDeployment) {
		t.Fatalf("Start against moto: %v", err)
	}
	if r.NewTaskDef == "" || r.NewTaskDef == r.OldTaskDef {
		t.Fatalf("start registered %s → %s", r.OldTaskDef, r.NewTaskDef)
	}
	got, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(r.NewTaskDef), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	c := got.TaskDefinition.ContainerDefinitions[0]
	if aws.ToString(c.Image) != "example/api@"+digest || aws.ToString(c.Environment[0].Value) != "tasks" || aws.ToString(got.TaskDefinition.Cpu) != "256" {
		t.Errorf("moto recorded %+v", got.TaskDefinition)
	}
	if plan.TagValue(got.Tags, plan.TagGitSHA) != "deadbeef" || plan.TagValue(got.Tags, plan.TagDigestPrefix+"api") != digest || plan.TagValue(got.Tags, "team") != "conveyor" {
		t.Errorf("moto recorded tags %v", got.Tags)
	}
	svcs, err = DescribeAll(ctx, api, name, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(svcs[name].TaskDefinition) != r.NewTaskDef {
		t.Errorf("service runs %s, want %s", aws.ToString(svcs[name].TaskDefinition), r.NewTaskDef)
	}
	target, err := ResolveTarget(ctx, api, name, svcs[name], plan.Target{Kind: plan.TargetRevision, Value: "1"})
	if err != nil {
		t.Fatal(err)
	}
	var te *TargetError
	if _, err := ResolveTarget(ctx, api, name, svcs[name], plan.Target{Kind: plan.TargetRevision, Value: "conveyor-worker:1"}); !errors.As(err, &te) {
		t.Errorf("a revision of another family resolved (%v); want a TargetError", err)
	}
	if aws.ToString(target.ContainerDefinitions[0].Image) != "example/api:1" {
		t.Errorf("revision 1 resolved to %s", aws.ToString(target.TaskDefinitionArn))
	}
	// With forceNewDeployment moto gives its (unchanged) deployment a new
	// id, and that record names revision 1: the rollback has an id.
	rb, err := StartRollback(ctx, api, name, svcs[name], target, "conveyor")
	if err != nil || !strings.HasPrefix(rb.DeploymentID, "ecs-svc/") {
		t.Fatalf("StartRollback against moto: %v (deployment %q)", err, rb.DeploymentID)
	}
	svcs, err = DescribeAll(ctx, api, name, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(svcs[name].TaskDefinition) != aws.ToString(first.TaskDefinition.TaskDefinitionArn) {
		t.Errorf("after rollback the service runs %s, want %s", aws.ToString(svcs[name].TaskDefinition), aws.ToString(first.TaskDefinition.TaskDefinitionArn))
	}
	// A digest target reads the service-deployments API first, which
	// moto lacks; the scan of registered revisions it falls back on is
	// made of calls moto has.
	byDigest, err := newestHolding(ctx, api, name, name, digest)
	if err != nil || aws.ToString(byDigest.TaskDefinitionArn) != r.NewTaskDef {
		t.Errorf("resolve by digest: %v, %v", byDigest, err)
	}
}
