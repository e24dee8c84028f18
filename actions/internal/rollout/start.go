package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
)

// DescribeAll describes services ten at a time (DescribeServices' limit).
func DescribeAll(ctx context.Context, api API, cluster string, names []string) (map[string]types.Service, error) {
	out := map[string]types.Service{}
	for i := 0; i < len(names); i += 10 {
		batch := names[i:min(i+10, len(names))]
		res, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return nil, fmt.Errorf("describe services %s in cluster %s: %w", strings.Join(batch, ", "), cluster, err)
		}
		for _, s := range res.Services {
			out[aws.ToString(s.ServiceName)] = s
		}
		for _, f := range res.Failures {
			return nil, fmt.Errorf("service %s in cluster %s: %s: check the services input and the cluster name",
				aws.ToString(f.Arn), cluster, aws.ToString(f.Reason))
		}
	}
	return out, nil
}

// steadyOn says whether the service runs only taskDef, in one COMPLETED
// deployment with every desired task running.
func steadyOn(svc types.Service, taskDef string) bool {
	if len(svc.Deployments) != 1 {
		return false
	}
	d := svc.Deployments[0]
	return aws.ToString(d.TaskDefinition) == taskDef && d.RolloutState == types.DeploymentRolloutStateCompleted &&
		d.RunningCount == d.DesiredCount && svc.RunningCount == svc.DesiredCount
}

// Start renders, registers and rolls out the next task definition of one
// service: the live one with the images from the image map. When the
// service already runs those digests, steady, it starts nothing (unless
// force) and returns a SUCCEEDED result without a deployment.
func Start(ctx context.Context, api API, cluster string, svc types.Service, images map[string]plan.Image, gitSHA string, force bool) (*Result, error) {
	name := aws.ToString(svc.ServiceName)
	r := &Result{Cluster: cluster, Service: name, Kind: KindDeploy, By: "conveyor", OldTaskDef: aws.ToString(svc.TaskDefinition), Started: time.Now()}
	r.knowEvents(svc)
	live, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition, Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil {
		return r, fmt.Errorf("service %s: describe its task definition %s: %w", name, r.OldTaskDef, err)
	}
	r.live = live.TaskDefinition
	r.LogGroup = logGroup(live.TaskDefinition)
	in, changes, err := plan.Render(live.TaskDefinition, live.Tags, images, gitSHA)
	if err != nil {
		return r, fmt.Errorf("service %s: %w", name, err)
	}
	r.Digests = map[string]string{}
	for _, c := range changes {
		r.Digests[c.Container] = c.Digest
	}
	if !force && sameDigests(plan.Digests(live.TaskDefinition), r.Digests) && steadyOn(svc, r.OldTaskDef) {
		r.NewTaskDef, r.Verdict, r.Ended = r.OldTaskDef, Succeeded, time.Now()
		r.Reason = fmt.Sprintf("%s already runs %s (%s), steady: no deployment started (set force to deploy anyway)", name, digestList(r.Digests), plan.ShortTaskDef(r.OldTaskDef))
		return r, nil
	}
	reg, err := api.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return r, fmt.Errorf("service %s: register the next revision of %s: %w", name, aws.ToString(in.Family), err)
	}
	r.NewTaskDef = aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	return r, update(ctx, api, r, force)
}

func sameDigests(live, want map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for c, d := range want {
		if live[c] != d {
			return false
		}
	}
	return true
}

// logGroup is the awslogs group of the task definition's first container
// that logs to CloudWatch ("" if none).
func logGroup(td *types.TaskDefinition) string {
	for _, c := range td.ContainerDefinitions {
		if lc := c.LogConfiguration; lc != nil && lc.LogDriver == types.LogDriverAwslogs {
			if g := lc.Options["awslogs-group"]; g != "" {
				return g
			}
		}
	}
	return ""
}

// update points the service at r.NewTaskDef and records the deployment the
// update created.
func update(ctx context.Context, api API, r *Result, force bool) error {
	r.Started = time.Now()
	out, err := api.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(r.Cluster), Service: aws.String(r.Service),
		TaskDefinition: aws.String(r.NewTaskDef), ForceNewDeployment: force})
	if err != nil {
		return fmt.Errorf("service %s: update to %s: %w", r.Service, plan.ShortTaskDef(r.NewTaskDef), err)
	}
	if out.Service != nil {
		// ECS names the service deployment the update started; the
		// watcher finds it by its target revision where it does not.
		r.ServiceDeployment = aws.ToString(out.Service.CurrentServiceDeployment)
		for _, d := range out.Service.Deployments {
			if aws.ToString(d.Status) == "PRIMARY" && aws.ToString(d.TaskDefinition) == r.NewTaskDef {
				r.DeploymentID = aws.ToString(d.Id)
				r.Created = aws.ToTime(d.CreatedAt)
			}
		}
	}
	if r.DeploymentID == "" {
		return fmt.Errorf("service %s: UpdateService to %s: %w, so there is nothing to watch", r.Service, plan.ShortTaskDef(r.NewTaskDef), ErrNoDeployment)
	}
	return nil
}

// ErrNoDeployment means UpdateService answered without a PRIMARY deployment
// of the new task definition (ECS always returns one; moto does not).
var ErrNoDeployment = errors.New("the response lists no PRIMARY deployment of it")

// TargetError is a rollback target that can never apply to a service: a
// revision of another task definition family. It is an input error.
type TargetError struct {
	Service, Target, Family string
}

func (e *TargetError) Error() string {
	return fmt.Sprintf("service %s: rollback target %s is a revision of %s, not of the service's family %s: refused (give a revision number, %s:N, or a digest)",
		e.Service, e.Target, plan.Family(e.Target), e.Family, e.Family)
}

// ResolveTarget finds the task definition a rollback goes to.
func ResolveTarget(ctx context.Context, api API, cluster string, svc types.Service, t plan.Target) (*types.TaskDefinition, error) {
	name, current := aws.ToString(svc.ServiceName), aws.ToString(svc.TaskDefinition)
	family := plan.Family(current)
	describe := func(ref string) (*types.TaskDefinition, error) {
		out, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		if err != nil {
			return nil, fmt.Errorf("service %s: describe task definition %s: %w", name, ref, err)
		}
		return out.TaskDefinition, nil
	}
	target := func(ref string) (*types.TaskDefinition, error) {
		td, err := describe(ref)
		if err != nil {
			return nil, err
		}
		return td, deployable(name, td)
	}
	switch t.Kind {
	case plan.TargetRevision:
		ref := t.Revision(family)
		if plan.Family(ref) != family {
			return nil, &TargetError{Service: name, Target: ref, Family: family}
		}
		return target(ref)
	case plan.TargetDigest:
		// The revision a successful deployment of this service ran with
		// the digest comes first: several revisions can hold one digest
		// (a force redeploy, an edited environment, a sidecar every
		// revision pins), and the newest registered one may never have
		// run.
		ran, err := ranDigest(ctx, api, cluster, name, t.Value)
		if err != nil {
			return nil, err
		}
		if ran != "" && plan.Family(ran) == family {
			return target(ran)
		}
		return newestHolding(ctx, api, name, family, t.Value)
	}
	last, _, err := LastSuccessful(ctx, api, cluster, name, "")
	if err != nil {
		if errors.Is(err, ErrNoRollbackTarget) {
			return nil, fmt.Errorf("%w before the current one: pass a revision or a digest", err)
		}
		return nil, err
	}
	return target(last)
}

// newestHolding is the newest active revision of family with an image of
// the digest (among the newest 100).
func newestHolding(ctx context.Context, api API, service, family, digest string) (*types.TaskDefinition, error) {
	list, err := api.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(family), Sort: types.SortOrderDesc, MaxResults: aws.Int32(100)})
	if err != nil {
		return nil, fmt.Errorf("service %s: list revisions of %s: %w", service, family, err)
	}
	for _, arn := range list.TaskDefinitionArns {
		if plan.Family(arn) != family {
			continue
		}
		out, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("service %s: describe task definition %s: %w", service, arn, err)
		}
		for _, d := range plan.Digests(out.TaskDefinition) {
			if d == digest {
				return out.TaskDefinition, nil
			}
		}
	}
	return nil, fmt.Errorf("service %s: no active revision of %s runs an image with digest %s (searched the newest %d)", service, family, digest, len(list.TaskDefinitionArns))
}

// ranDigest is the task definition of the newest SUCCESSFUL service
// deployment of the service whose target revision ran an image with the
// digest ("" if none of the newest 100 did).
func ranDigest(ctx context.Context, api API, cluster, service, digest string) (string, error) {
	out, err := api.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String(cluster), Service: aws.String(service),
		Status: []types.ServiceDeploymentStatus{types.ServiceDeploymentStatusSuccessful}, MaxResults: aws.Int32(100)})
	if err != nil {
		return "", fmt.Errorf("service %s: list its service deployments: %w", service, err)
	}
	var revs []string
	for _, b := range out.ServiceDeployments { // newest first
		if rev := aws.ToString(b.TargetServiceRevisionArn); rev != "" {
			revs = append(revs, rev)
		}
	}
	described, err := describeRevisions(ctx, api, revs, nil)
	if err != nil {
		return "", fmt.Errorf("service %s: %w", service, err)
	}
	ran := map[string]string{}
	for arn, rev := range described {
		for _, c := range rev.ContainerImages {
			if aws.ToString(c.ImageDigest) == digest {
				ran[arn] = aws.ToString(rev.TaskDefinition)
			}
		}
	}
	for _, rev := range revs {
		if td := ran[rev]; td != "" {
			return td, nil
		}
	}
	return "", nil
}

// deployable refuses a rollback target ECS would refuse: "you can't update
// an existing service to reference an INACTIVE task definition"
// (DeregisterTaskDefinition, ECS API Reference). Saying so before
// UpdateService leaves the service alone and says how to go on.
func deployable(service string, td *types.TaskDefinition) error {
	if td.Status != types.TaskDefinitionStatusInactive {
		return nil
	}
	arn := aws.ToString(td.TaskDefinitionArn)
	return fmt.Errorf("service %s: rollback target %s was deregistered (INACTIVE) and ECS deploys no inactive revision: register it again "+
		"(aws ecs describe-task-definition --task-definition %s gives its definition) and roll back to the new revision, or pass another revision",
		service, plan.ShortTaskDef(arn), arn)
}

// StartRollback points the service back at td and records the deployment.
// It never deregisters anything, so every earlier revision stays a possible
// target.
func StartRollback(ctx context.Context, api API, cluster string, svc types.Service, td *types.TaskDefinition, by string) (*Result, error) {
	r := &Result{Cluster: cluster, Service: aws.ToString(svc.ServiceName), Kind: KindRollback, By: by,
		OldTaskDef: aws.ToString(svc.TaskDefinition), NewTaskDef: aws.ToString(td.TaskDefinitionArn), Digests: plan.Digests(td), LogGroup: logGroup(td)}
	r.knowEvents(svc)
	return r, update(ctx, api, r, true)
}
