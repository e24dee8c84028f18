package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const dg = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestParseImageMap(t *testing.T) {
	m, err := ParseImageMap(`{"api":"127.0.0.1:5000/conveyor/api:v1@` + dg + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := m["api"].Ref(); got != "127.0.0.1:5000/conveyor/api@"+dg {
		t.Errorf("api ref %q: the tag must go and the port stay", got)
	}
	for _, bad := range []string{`[]`, `{}`, `{"api":"conveyor/api:latest"}`, `{"api":"conveyor/api@sha256:abc"}`} {
		if _, err := ParseImageMap(bad); err == nil {
			t.Errorf("ParseImageMap(%s) accepted", bad)
		}
	}
}

func TestRenderChangesOnlyTheImage(t *testing.T) {
	live := &types.TaskDefinition{
		TaskDefinitionArn: aws.String("arn:aws:ecs:us-east-1:1:task-definition/conveyor-api:7"),
		Family:            aws.String("conveyor-api"), Cpu: aws.String("512"), Memory: aws.String("1024"),
		NetworkMode: types.NetworkModeAwsvpc, TaskRoleArn: aws.String("arn:aws:iam::1:role/task"),
		ContainerDefinitions: []types.ContainerDefinition{
			{Name: aws.String("api"), Image: aws.String("old/api:1"), Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("b")}}},
			{Name: aws.String("sidecar"), Image: aws.String("envoy:1")},
		},
	}
	in, changes, err := Render(live, []types.Tag{{Key: aws.String("team"), Value: aws.String("x")}, {Key: aws.String(TagGitSHA), Value: aws.String("old")}},
		map[string]Image{"api": {Repository: "r/api", Digest: dg}}, "abc123")
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].From != "old/api:1" || changes[0].To != "r/api@"+dg {
		t.Errorf("changes %+v", changes)
	}
	if *in.ContainerDefinitions[0].Image != "r/api@"+dg || *in.ContainerDefinitions[1].Image != "envoy:1" ||
		*in.ContainerDefinitions[0].Environment[0].Value != "b" || *in.Cpu != "512" || *in.TaskRoleArn != "arn:aws:iam::1:role/task" {
		t.Errorf("render changed more than the image: %+v", in)
	}
	want := map[string]string{"team": "x", TagGitSHA: "abc123", TagDigestPrefix + "api": dg}
	if len(in.Tags) != len(want) {
		t.Errorf("tags %v", in.Tags)
	}
	for k, v := range want {
		if got := TagValue(in.Tags, k); got != v {
			t.Errorf("tag %s = %q, want %q", k, got, v)
		}
	}
	if _, _, err := Render(live, nil, map[string]Image{"worker": {Repository: "r", Digest: dg}}, ""); err == nil || !strings.Contains(err.Error(), "api, sidecar") {
		t.Errorf("no matching container: err %v should list the containers", err)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"": {Kind: TargetLastCompleted}, "last-completed": {Kind: TargetLastCompleted},
		"42": {TargetRevision, "42"}, "conveyor-api:42": {TargetRevision, "conveyor-api:42"}, dg: {TargetDigest, dg},
	} {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"previous", "api:x", "sha256:12", "0"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
	if got := (Target{TargetRevision, "5"}).Revision("conveyor-api"); got != "conveyor-api:5" {
		t.Errorf("Revision = %s", got)
	}
}

func TestWarnings(t *testing.T) {
	svc := types.Service{ServiceName: aws.String("api"), HealthCheckGracePeriodSeconds: aws.Int32(60),
		LoadBalancers: []types.LoadBalancer{{}}}
	td := &types.TaskDefinition{ContainerDefinitions: []types.ContainerDefinition{{StopTimeout: aws.Int32(120)}}}
	w := Warnings(svc, td, 5*time.Minute, DefaultAssumptions)
	if len(w) != 2 || !strings.Contains(w[0], "6m0s = grace 1m0s + health checks 2m30s + deregistration 30s + stop timeout 2m0s") ||
		!strings.Contains(w[1], "circuit breaker is off") {
		t.Errorf("warnings: %q", w)
	}
	svc.DeploymentConfiguration = &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}
	if w := Warnings(svc, td, 15*time.Minute, DefaultAssumptions); len(w) != 0 {
		t.Errorf("want no warnings, got %q", w)
	}
}

func TestThreshold(t *testing.T) {
	for d, want := range map[int32]int32{0: 3, 1: 3, 2: 3, 6: 3, 7: 4, 10: 5, 399: 200, 1000: 200} {
		if got := Threshold(d); got != want {
			t.Errorf("Threshold(%d) = %d, want %d", d, got, want)
		}
	}
}
