package ecsstandin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

func (f *fixture) update(name, td string) *ecs.UpdateServiceOutput {
	f.t.Helper()
	out, err := f.ecs.UpdateService(f.ctx, &ecs.UpdateServiceInput{Cluster: aws.String("c"), Service: aws.String(name), TaskDefinition: aws.String(td)})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) sd(arn string) types.ServiceDeployment {
	f.t.Helper()
	out, err := f.ecs.DescribeServiceDeployments(f.ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{arn}})
	if err != nil {
		f.t.Fatal(err)
	}
	if len(out.ServiceDeployments) != 1 {
		f.t.Fatalf("DescribeServiceDeployments %s: %+v", arn, out.Failures)
	}
	return out.ServiceDeployments[0]
}

func (f *fixture) list(name string, in ecs.ListServiceDeploymentsInput) []types.ServiceDeploymentBrief {
	f.t.Helper()
	in.Cluster, in.Service = aws.String("c"), aws.String(name)
	var all []types.ServiceDeploymentBrief
	for pages := 0; ; pages++ {
		out, err := f.ecs.ListServiceDeployments(f.ctx, &in)
		if err != nil {
			f.t.Fatal(err)
		}
		all = append(all, out.ServiceDeployments...)
		if out.NextToken == nil || pages > 100 {
			return all
		}
		in.NextToken = out.NextToken
	}
}

// Every CreateService and UpdateService that changes the task definition
// starts a service deployment with a new service revision; it is PENDING,
// then IN_PROGRESS, then SUCCESSFUL once the deployment completes.
func TestServiceDeploymentLifecycleSuccessful(t *testing.T) {
	f := newFixture(t, Scenario{})
	td1 := f.register("web", "repo/web@sha256:aaa")
	f.service("web", td1, 2, true)
	svc := f.describe("web")
	first := aws.ToString(svc.CurrentServiceDeployment)
	if !strings.HasPrefix(first, "arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/") {
		t.Fatalf("currentServiceDeployment %q", first)
	}
	if got := f.sd(first).Status; got != types.ServiceDeploymentStatusPending {
		t.Errorf("new service deployment %s, want PENDING", got)
	}
	f.s.Advance(time.Second)
	if got := f.sd(first); got.Status != types.ServiceDeploymentStatusInProgress || got.StartedAt == nil || got.FinishedAt != nil {
		t.Errorf("after a tick: %s startedAt %v finishedAt %v, want IN_PROGRESS started, not finished", got.Status, got.StartedAt, got.FinishedAt)
	}
	if r := *svc.Deployments[0].RolloutStateReason; r != "ECS deployment "+*svc.Deployments[0].Id+" in progress." {
		t.Errorf("in-progress reason %q", r)
	}
	f.s.Advance(2 * time.Minute)
	sd := f.sd(first)
	if sd.Status != types.ServiceDeploymentStatusSuccessful || sd.FinishedAt == nil || sd.StoppedAt != nil {
		t.Fatalf("first service deployment %s finished %v stopped %v, want SUCCESSFUL", sd.Status, sd.FinishedAt, sd.StoppedAt)
	}
	if len(sd.SourceServiceRevisions) != 0 || sd.TargetServiceRevision.RunningTaskCount != 2 || sd.TargetServiceRevision.RequestedTaskCount != 2 {
		t.Errorf("first: sources %+v target %+v", sd.SourceServiceRevisions, sd.TargetServiceRevision)
	}
	if d := f.describe("web").Deployments[0]; *d.RolloutStateReason != "ECS deployment "+*d.Id+" completed." {
		t.Errorf("completed reason %q", *d.RolloutStateReason)
	}
	up := f.update("web", f.register("web", "repo/web@sha256:bbb"))
	second := aws.ToString(up.Service.CurrentServiceDeployment)
	if second == first || second == "" {
		t.Fatalf("UpdateService did not start a new service deployment: %q", second)
	}
	f.s.Advance(3 * time.Minute)
	sd2 := f.sd(second)
	if sd2.Status != types.ServiceDeploymentStatusSuccessful {
		t.Fatalf("second %s", sd2.Status)
	}
	if len(sd2.SourceServiceRevisions) != 1 || *sd2.SourceServiceRevisions[0].Arn != *sd.TargetServiceRevision.Arn {
		t.Errorf("second's source %+v, want the first's target %s", sd2.SourceServiceRevisions, *sd.TargetServiceRevision.Arn)
	}
	revs, err := f.ecs.DescribeServiceRevisions(f.ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: []string{*sd2.TargetServiceRevision.Arn, *sd.TargetServiceRevision.Arn, "arn:aws:ecs:us-east-1:123456789012:service-revision/c/web/1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.ServiceRevisions) != 2 || len(revs.Failures) != 1 || *revs.Failures[0].Reason != "MISSING" {
		t.Fatalf("revisions %+v failures %+v", revs.ServiceRevisions, revs.Failures)
	}
	if *revs.ServiceRevisions[1].TaskDefinition != td1 || *revs.ServiceRevisions[0].ContainerImages[0].ImageDigest != "sha256:bbb" {
		t.Errorf("revisions record %s and %s", *revs.ServiceRevisions[1].TaskDefinition, *revs.ServiceRevisions[0].ContainerImages[0].ImageDigest)
	}
	// Same task definition, no force: no deployment, no service deployment.
	if again := f.update("web", *up.Service.TaskDefinition); *again.Service.CurrentServiceDeployment != second {
		t.Errorf("a no-op UpdateService started service deployment %s", *again.Service.CurrentServiceDeployment)
	}
	// Newest first.
	l := f.list("web", ecs.ListServiceDeploymentsInput{})
	if len(l) != 2 || *l[0].ServiceDeploymentArn != second || *l[1].ServiceDeploymentArn != first {
		t.Errorf("list %+v, want [%s %s]", l, second, first)
	}
}

// A newer UpdateService while a service deployment is IN_PROGRESS stops it.
func TestServiceDeploymentSupersededIsStopped(t *testing.T) {
	f := newFixture(t, Scenario{})
	f.service("web", f.register("web", "repo/web:v1"), 2, false)
	f.s.Advance(2 * time.Minute)
	a := *f.update("web", f.register("web", "repo/web:v2")).Service.CurrentServiceDeployment
	f.s.Advance(5 * time.Second)
	b := *f.update("web", f.register("web", "repo/web:v3")).Service.CurrentServiceDeployment
	sa := f.sd(a)
	if sa.Status != types.ServiceDeploymentStatusStopped || sa.StoppedAt == nil || !strings.Contains(aws.ToString(sa.StatusReason), b) {
		t.Errorf("superseded: %s stoppedAt %v reason %q, want STOPPED naming %s", sa.Status, sa.StoppedAt, aws.ToString(sa.StatusReason), b)
	}
	f.s.Advance(3 * time.Minute)
	if got := f.sd(b).Status; got != types.ServiceDeploymentStatusSuccessful {
		t.Errorf("the newer one: %s", got)
	}
	if got := f.sd(a).Status; got != types.ServiceDeploymentStatusStopped {
		t.Errorf("a STOPPED service deployment is final; now %s", got)
	}
	st := f.s.Stats().ServiceDeployments
	if len(st) != 3 || st[1].ARN != a || st[1].Status != "STOPPED" || st[1].FinishedAt.IsZero() || st[2].Status != "SUCCESSFUL" {
		t.Errorf("stats %+v", st)
	}
}

func TestListServiceDeploymentsFiltersAndPages(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{{Match: ":bad", Behaviour: Crash}}})
	f.service("web", f.register("web", "repo/web:v0"), 1, false)
	f.s.Advance(2 * time.Minute)
	var arns []string
	for i := 1; i <= 4; i++ {
		arns = append(arns, *f.update("web", f.register("web", "repo/web:v"+string(rune('0'+i)))).Service.CurrentServiceDeployment)
		f.s.Advance(2 * time.Minute)
	}
	mid := f.sd(arns[1]).CreatedAt
	all := f.list("web", ecs.ListServiceDeploymentsInput{MaxResults: aws.Int32(2)})
	if len(all) != 5 || *all[0].ServiceDeploymentArn != arns[3] {
		t.Fatalf("paged list: %d, first %v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(*all[i-1].CreatedAt) {
			t.Errorf("not newest first at %d", i)
		}
	}
	after := f.list("web", ecs.ListServiceDeploymentsInput{CreatedAt: &types.CreatedAt{After: mid}})
	if len(after) != 2 {
		t.Errorf("created after the second update: %d, want 2", len(after))
	}
	ok := f.list("web", ecs.ListServiceDeploymentsInput{Status: []types.ServiceDeploymentStatus{types.ServiceDeploymentStatusSuccessful}})
	if len(ok) != 5 {
		t.Errorf("SUCCESSFUL: %d, want 5", len(ok))
	}
	none := f.list("web", ecs.ListServiceDeploymentsInput{Status: []types.ServiceDeploymentStatus{types.ServiceDeploymentStatusRollbackFailed}})
	if len(none) != 0 {
		t.Errorf("ROLLBACK_FAILED: %d, want 0", len(none))
	}
	for _, c := range []struct {
		name string
		in   ecs.ListServiceDeploymentsInput
	}{
		{"maxResults 101", ecs.ListServiceDeploymentsInput{MaxResults: aws.Int32(101)}},
		{"unknown status", ecs.ListServiceDeploymentsInput{Status: []types.ServiceDeploymentStatus{"DONE"}}},
		{"forged token", ecs.ListServiceDeploymentsInput{NextToken: aws.String("bm9wZQ")}},
	} {
		c.in.Cluster, c.in.Service = aws.String("c"), aws.String("web")
		_, err := f.ecs.ListServiceDeployments(f.ctx, &c.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" {
			t.Errorf("%s: want InvalidParameterException, got %v", c.name, err)
		}
	}
	_, err := f.ecs.ListServiceDeployments(f.ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("c"), Service: aws.String("nope")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceNotFoundException" {
		t.Errorf("unknown service: %v", err)
	}
	_, err = f.ecs.DescribeServiceDeployments(f.ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: make([]string, 21)})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" {
		t.Errorf("21 ARNs: %v", err)
	}
}

// StopServiceDeployment ROLLBACK rolls an ongoing service deployment back
// to the last successful revision, even with the breaker off; a finished
// one cannot be stopped.
func TestStopServiceDeploymentRollsBack(t *testing.T) {
	f := newFixture(t, Scenario{Rules: []Rule{{Match: ":stuck", Behaviour: Hang}}})
	v1 := f.register("web", "repo/web:v1")
	f.serviceWith("web", v1, 2, &types.DeploymentCircuitBreaker{Enable: false, Rollback: false})
	f.s.Advance(2 * time.Minute)
	first := *f.describe("web").CurrentServiceDeployment
	arn := *f.update("web", f.register("web", "repo/web:stuck")).Service.CurrentServiceDeployment
	f.s.Advance(time.Minute)
	var ae smithy.APIError
	for _, c := range []struct {
		arn, stopType, code string
	}{
		{first, "ROLLBACK", "ConflictException"},
		{arn, "ABORT", "InvalidParameterException"},
		{arn + "x", "ROLLBACK", "ServiceDeploymentNotFoundException"},
	} {
		_, err := f.ecs.StopServiceDeployment(f.ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(c.arn), StopType: types.StopServiceDeploymentStopType(c.stopType)})
		if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
			t.Errorf("stop %s %s: %v, want %s", c.arn, c.stopType, err, c.code)
		}
	}
	if _, err := f.ecs.StopServiceDeployment(f.ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(arn), StopType: types.StopServiceDeploymentStopTypeRollback}); err != nil {
		t.Fatal(err)
	}
	if got := f.sd(arn).Status; got != types.ServiceDeploymentStatusRollbackRequested {
		t.Errorf("after the stop: %s, want ROLLBACK_REQUESTED", got)
	}
	f.s.Advance(5 * time.Minute)
	sd := f.sd(arn)
	if sd.Status != types.ServiceDeploymentStatusRollbackSuccessful || sd.Rollback == nil {
		t.Errorf("%s rollback %+v, want ROLLBACK_SUCCESSFUL", sd.Status, sd.Rollback)
	}
	if svc := f.describe("web"); *svc.TaskDefinition != v1 || len(svc.Deployments) != 1 {
		t.Errorf("service runs %s with %d deployments, want %s alone", *svc.TaskDefinition, len(svc.Deployments), v1)
	}
}
