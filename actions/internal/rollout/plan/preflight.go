package plan

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Budget is what one rolling replacement of a task needs, at least.
type Budget struct {
	Grace        time.Duration // the service's health-check grace period
	HealthChecks time.Duration // until the load balancer (or container) calls it healthy
	Deregister   time.Duration // the target group's deregistration delay
	StopTimeout  time.Duration // SIGTERM to SIGKILL for the old task
}

// Total is the sum.
func (b Budget) Total() time.Duration { return b.Grace + b.HealthChecks + b.Deregister + b.StopTimeout }

// Assumptions are what ECS does not say about the load balancer (the stand-in
// and the deploy role do not read ELBv2): healthy-threshold × interval and the
// deregistration delay. ALB defaults are 5 × 30 s and 300 s; conveyor's
// target group uses 30 s deregistration.
type Assumptions struct {
	LBHealthy  time.Duration
	Deregister time.Duration
}

// DefaultAssumptions match infra/'s target group.
var DefaultAssumptions = Assumptions{LBHealthy: 5 * 30 * time.Second, Deregister: 30 * time.Second}

// BudgetFor computes the budget from the service and its task definition.
// stopTimeout defaults to 30 s (Fargate's maximum is 120 s).
func BudgetFor(svc types.Service, td *types.TaskDefinition, a Assumptions) Budget {
	b := Budget{Grace: time.Duration(aws.ToInt32(svc.HealthCheckGracePeriodSeconds)) * time.Second, StopTimeout: 30 * time.Second}
	if len(svc.LoadBalancers) > 0 {
		b.HealthChecks, b.Deregister = a.LBHealthy, a.Deregister
	}
	if td != nil {
		var stop time.Duration
		for _, c := range td.ContainerDefinitions {
			if c.StopTimeout != nil {
				stop = max(stop, time.Duration(*c.StopTimeout)*time.Second)
			}
			if hc := c.HealthCheck; hc != nil && len(svc.LoadBalancers) == 0 {
				interval, retries, start := int32(30), int32(3), int32(0)
				if hc.Interval != nil {
					interval = *hc.Interval
				}
				if hc.Retries != nil {
					retries = *hc.Retries
				}
				if hc.StartPeriod != nil {
					start = *hc.StartPeriod
				}
				b.HealthChecks = max(b.HealthChecks, time.Duration(start+interval*retries)*time.Second)
			}
		}
		if stop > 0 {
			b.StopTimeout = stop
		}
	}
	return b
}

// Warnings are the things to say before deploying a service.
func Warnings(svc types.Service, td *types.TaskDefinition, timeout time.Duration, a Assumptions) []string {
	var out []string
	name := aws.ToString(svc.ServiceName)
	b := BudgetFor(svc, td, a)
	if timeout > 0 && timeout < b.Total() {
		out = append(out, fmt.Sprintf("%s: timeout %s cannot cover one task replacement (%s = grace %s + health checks %s + deregistration %s + stop timeout %s); raise timeout or the verdict will be TIMED_OUT",
			name, timeout, b.Total(), b.Grace, b.HealthChecks, b.Deregister, b.StopTimeout))
	}
	if dc := svc.DeploymentConfiguration; dc == nil || dc.DeploymentCircuitBreaker == nil || !dc.DeploymentCircuitBreaker.Enable {
		out = append(out, fmt.Sprintf("%s: the deployment circuit breaker is off, so ECS retries failing tasks forever; conveyor will stop at the timeout. Enable deployment_circuit_breaker { enable = true, rollback = true }", name))
	} else if !dc.DeploymentCircuitBreaker.Rollback {
		out = append(out, fmt.Sprintf("%s: the circuit breaker does not roll back; conveyor will roll back itself on failure", name))
	}
	return out
}

// Threshold is the circuit breaker's failed-task threshold for a desired
// count: ceil(0.5 × desired) clamped to [3, 200].
func Threshold(desired int32) int32 {
	t := (desired + 1) / 2
	return min(max(t, 3), 200)
}
