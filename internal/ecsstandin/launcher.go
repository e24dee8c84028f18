package ecsstandin

import "time"

// Launcher starts tasks. The scenario launcher simulates them from a
// Scenario; a process launcher (running the services' binaries) can be added
// behind the same interface without touching the deployment state machine.
type Launcher interface {
	// Launch starts one task at virtual time now.
	Launch(spec TaskSpec, now time.Time) Handle
}

// TaskSpec is what a launcher needs to know about a task.
type TaskSpec struct {
	TaskArn    string
	Service    string
	Containers []ContainerSpec
	// HasLoadBalancer says whether ELB health checks decide the task's health.
	HasLoadBalancer bool
}

// ContainerSpec is one container of the task definition.
type ContainerSpec struct {
	Name      string
	Image     string
	Essential bool
}

// Handle is a launched task as the state machine observes it.
type Handle interface {
	// Observe reports the task's state at virtual time now.
	Observe(now time.Time) Observation
	// Stop asks the task to stop (SIGTERM); it reports Exited once done.
	Stop(now time.Time)
}

// Observation is a task's state at one instant.
type Observation struct {
	Running bool // the containers are running
	// Exited is set once the task has ended by itself (crash, failed start)
	// or after Stop.
	Exited   bool
	StopCode string // TaskFailedToStart, EssentialContainerExited, ...
	Reason   string // the task's stoppedReason
	// ExitCodes and ContainerReasons are per container name.
	ExitCodes        map[string]int
	ContainerReasons map[string]string
	// Health is "" (still checking), "healthy" or "unhealthy": behind a load
	// balancer the target's health, otherwise the container health check's
	// (or "healthy" once the task has kept running long enough). A task
	// counts toward a deployment only once healthy. HealthReason says why a
	// target is unhealthy.
	Health       string
	HealthReason string
	// Digests are the resolved image digests per container.
	Digests map[string]string
}
