package rollout

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// StopClass is what a stopped task says about a deployment.
type StopClass int

const (
	// StopExpected: ECS or a user stopped a healthy task (scale-in,
	// replacement, rebalancing, a spot interruption).
	StopExpected StopClass = iota
	// StopFailure: the task failed (an essential container exited, it
	// failed to start or failed its health checks). The circuit breaker
	// counts it; ECS retries.
	StopFailure
	// StopTransient: the task failed to start for a reason that heals by
	// itself (a network timeout, throttling). The breaker counts it too,
	// and conveyor leaves the decision to ECS.
	StopTransient
	// StopPermanent: the task can never start (a missing image or tag,
	// access denied, a missing secret or parameter): no retry heals it,
	// so the deployment fails at once.
	StopPermanent
)

func (c StopClass) String() string {
	return [...]string{"expected", "failure", "transient", "permanent"}[c]
}

// The texts below are those of the "Amazon ECS stopped task error messages"
// pages of the ECS Developer Guide (CannotPullContainer task errors,
// ResourceInitializationError and "Stopped task error codes"). Transient
// wins over permanent: "unable to pull secrets or registry auth: ... i/o
// timeout" names a secret but only timed out reaching it.
var (
	transientTexts = []string{
		"i/o timeout", "context deadline exceeded", "connection reset", "connection refused", "TLS handshake timeout",
		"ThrottlingException", "TooManyRequestsException", "Rate exceeded", "RequestLimitExceeded", "ServiceUnavailable",
		"503 Service Unavailable", "InternalError", "no such host",
	}
	permanentTexts = []string{
		"manifest unknown", ": not found", "repository does not exist", "pull access denied", "403 Forbidden",
		"AccessDenied", "ResourceNotFoundException", "ParameterNotFound", "does not exist", "InvalidParameterException",
		"is not authorized to perform",
	}
	// healthTexts are the reasons ECS gives when it stops a task that
	// failed its load balancer or container health checks.
	healthTexts = []string{"failed ELB health checks", "failed container health checks"}
)

// classifyStop classifies a stopped task from its stop code (the
// structured field) and, where the code alone does not tell, its reasons.
func classifyStop(code types.TaskStopCode, reasons ...string) StopClass {
	text := strings.Join(reasons, " ")
	containsAny := func(list []string) bool {
		for _, s := range list {
			if strings.Contains(text, s) {
				return true
			}
		}
		return false
	}
	switch code {
	case types.TaskStopCodeTaskFailedToStart:
		switch {
		case containsAny(transientTexts):
			return StopTransient
		case containsAny(permanentTexts):
			return StopPermanent
		}
		return StopFailure
	case types.TaskStopCodeEssentialContainerExited:
		return StopFailure
	case types.TaskStopCodeServiceSchedulerInitiated:
		if containsAny(healthTexts) {
			return StopFailure
		}
	}
	return StopExpected
}
