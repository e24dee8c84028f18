package rollout

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ErrNoRollbackTarget means ECS lists no service deployment before the
// current one that succeeded.
var ErrNoRollbackTarget = errors.New("no earlier service deployment succeeded")

// maxHistoryPages bounds how far back LastSuccessful reads (100 service
// deployments a page).
const maxHistoryPages = 5

// LastSuccessful finds what a rollback goes to: the task definition the
// service really ran after the last service deployment that ended well
// before the current one. The current one is `current` (a service
// deployment ARN) or, when that is "", the newest ECS lists. A SUCCESSFUL
// deployment ran its target revision; a ROLLBACK_SUCCESSFUL one ran the
// revision its rollback deployed. It returns the task definition and the
// service deployment it comes from.
func LastSuccessful(ctx context.Context, api API, cluster, service, current string) (string, string, error) {
	in := &ecs.ListServiceDeploymentsInput{Cluster: aws.String(cluster), Service: aws.String(service), MaxResults: aws.Int32(100)}
	passed := false
	for page := 0; page < maxHistoryPages; page++ {
		out, err := api.ListServiceDeployments(ctx, in)
		if err != nil {
			return "", "", fmt.Errorf("service %s: list its service deployments: %w", service, err)
		}
		for _, b := range out.ServiceDeployments { // newest first
			arn := aws.ToString(b.ServiceDeploymentArn)
			if !passed {
				if current == "" || arn == current {
					passed = true
				}
				continue
			}
			switch b.Status {
			case types.ServiceDeploymentStatusSuccessful:
				tds, err := revisionTaskDefs(ctx, api, []string{aws.ToString(b.TargetServiceRevisionArn)}, nil)
				if err != nil {
					return "", "", fmt.Errorf("service %s: %w", service, err)
				}
				return tds[aws.ToString(b.TargetServiceRevisionArn)], arn, nil
			case types.ServiceDeploymentStatusRollbackSuccessful:
				d, err := api.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{arn}})
				if err != nil {
					return "", "", fmt.Errorf("service %s: describe service deployment %s: %w", service, arn, err)
				}
				if len(d.ServiceDeployments) == 0 || d.ServiceDeployments[0].Rollback == nil {
					return "", "", fmt.Errorf("service %s: service deployment %s is ROLLBACK_SUCCESSFUL but ECS does not say what it rolled back to", service, arn)
				}
				rev := aws.ToString(d.ServiceDeployments[0].Rollback.ServiceRevisionArn)
				tds, err := revisionTaskDefs(ctx, api, []string{rev}, nil)
				if err != nil {
					return "", "", fmt.Errorf("service %s: %w", service, err)
				}
				return tds[rev], arn, nil
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if !passed {
		return "", "", fmt.Errorf("service %s: service deployment %s is not among the newest %d ECS lists", service, current, maxHistoryPages*100)
	}
	return "", "", fmt.Errorf("service %s: %w", service, ErrNoRollbackTarget)
}
