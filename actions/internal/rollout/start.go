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

// Start renders, registers and rolls out the next task definition of one
// service: the live one with the images from the image map.
func Start(ctx context.Context, api API, cluster string, svc types.Service, images map[string]plan.Image, gitSHA string) (*Result, error) {
	name := aws.ToString(svc.ServiceName)
	r := &Result{Cluster: cluster, Service: name, Kind: KindDeploy, By: "conveyor", OldTaskDef: aws.ToString(svc.TaskDefinition), Started: time.Now()}
	r.knowEvents(svc)
	live, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition, Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil {
		return r, fmt.Errorf("service %s: describe its task definition %s: %w", name, r.OldTaskDef, err)
	}
	r.live = live.TaskDefinition
	r.RollbackTarget = plan.RollbackBefore(svc, live.Tags)
	in, changes, err := plan.Render(live.TaskDefinition, live.Tags, images, gitSHA, r.RollbackTarget)
	if err != nil {
		return r, fmt.Errorf("service %s: %w", name, err)
	}
	r.Digests = map[string]string{}
	for _, c := range changes {
		r.Digests[c.Container] = c.Digest
	}
	reg, err := api.RegisterTaskDefinition(ctx, in)
	if err != nil {
		return r, fmt.Errorf("service %s: register the next revision of %s: %w", name, aws.ToString(in.Family), err)
	}
	r.NewTaskDef = aws.ToString(reg.TaskDefinition.TaskDefinitionArn)
	return r, update(ctx, api, r, false)
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
		for _, d := range out.Service.Deployments {
			if aws.ToString(d.Status) == "PRIMARY" && aws.ToString(d.TaskDefinition) == r.NewTaskDef {
				r.DeploymentID = aws.ToString(d.Id)
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

// ErrNoRollbackTarget means no deployment of the service ever completed.
var ErrNoRollbackTarget = errors.New("no COMPLETED deployment to roll back to")

// ResolveTarget finds the task definition a rollback goes to.
func ResolveTarget(ctx context.Context, api API, svc types.Service, t plan.Target) (*types.TaskDefinition, error) {
	name, current := aws.ToString(svc.ServiceName), aws.ToString(svc.TaskDefinition)
	family := plan.Family(current)
	describe := func(ref string) (*types.TaskDefinition, []types.Tag, error) {
		out, err := api.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
		if err != nil {
			return nil, nil, fmt.Errorf("service %s: describe task definition %s: %w", name, ref, err)
		}
		return out.TaskDefinition, out.Tags, nil
	}
	switch t.Kind {
	case plan.TargetRevision:
		td, _, err := describe(t.Revision(family))
		return td, err
	case plan.TargetDigest:
		list, err := api.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(family), Sort: types.SortOrderDesc, MaxResults: aws.Int32(100)})
		if err != nil {
			return nil, fmt.Errorf("service %s: list revisions of %s: %w", name, family, err)
		}
		for _, arn := range list.TaskDefinitionArns {
			if plan.Family(arn) != family {
				continue
			}
			td, _, err := describe(arn)
			if err != nil {
				return nil, err
			}
			for _, d := range plan.Digests(td) {
				if d == t.Value {
					return td, nil
				}
			}
		}
		return nil, fmt.Errorf("service %s: no active revision of %s runs an image with digest %s (searched the newest %d)", name, family, t.Value, len(list.TaskDefinitionArns))
	}
	_, tags, err := describe(current)
	if err != nil {
		return nil, err
	}
	target := plan.LastCompleted(svc, tags)
	if target == "" {
		return nil, fmt.Errorf("service %s: %w before %s (no older COMPLETED deployment listed, no %s tag on it): pass a revision or a digest",
			name, ErrNoRollbackTarget, plan.ShortTaskDef(current), plan.TagRollbackTo)
	}
	td, _, err := describe(target)
	return td, err
}

// StartRollback points the service back at td and records the deployment.
// It never deregisters anything, so every earlier revision stays a possible
// target.
func StartRollback(ctx context.Context, api API, cluster string, svc types.Service, td *types.TaskDefinition, by string) (*Result, error) {
	r := &Result{Cluster: cluster, Service: aws.ToString(svc.ServiceName), Kind: KindRollback, By: by,
		OldTaskDef: aws.ToString(svc.TaskDefinition), NewTaskDef: aws.ToString(td.TaskDefinitionArn), Digests: plan.Digests(td)}
	r.knowEvents(svc)
	return r, update(ctx, api, r, true)
}
