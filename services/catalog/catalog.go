// Package catalog is the one declaration of conveyor's services: for each,
// its name (also its container, image repository suffix and ECS service
// suffix), its main package, the port it serves on, its Fargate size and task
// counts, its stop timeout and every AWS call it makes.
//
// Go code takes what it needs from here: the image build list
// (actions/internal/image), the local runner (services/local/localrun), the
// demo and the game days. The files that cannot import Go (the Terraform in
// infra/environments/production, the contract in policies/, the workflows
// and build-push's action.yml) are compared with this list by
// TestEveryFileAgreesWithTheCatalogue, which names each difference.
//
// Adding a service: see CONTRIBUTING.md.
package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Service is one deployable service.
type Service struct {
	// Name is the service's short name: the container name in its task
	// definition, the image repository suffix (<prefix>/<Name>), the ECS
	// service suffix (<app>-<Name>) and its directory under services/.
	Name string
	// Package is the Go main package, relative to the module root.
	Package string
	// Port is the container port the load balancer sends traffic to; 0 when
	// the service takes no inbound traffic. A service with a port listens on
	// CONVEYOR_LISTEN (":<Port>" in ECS; local runs give it a free port).
	Port int32
	// Ready is the message of the log line the service writes once it is
	// ready for work; local runs wait for it.
	Ready string
	// CPU (Fargate units) and Memory (MiB) of one task.
	CPU, Memory int
	// MinCount and MaxCount bound the task count the autoscaler may set.
	MinCount, MaxCount int
	// StopTimeout is the time between SIGTERM and SIGKILL that ECS gives
	// the container (Fargate allows 2 s to 120 s).
	StopTimeout time.Duration
	// Calls are the AWS calls the service's code makes; its task role grants
	// exactly their actions.
	Calls []Call
}

// Services are conveyor's services. Order does not matter: everything
// derived from the list uses Names, which sorts.
var Services = []Service{
	{
		Name: "api", Package: "./services/api", Port: 8080, Ready: "serving",
		CPU: 512, Memory: 1024, MinCount: 2, MaxCount: 10, StopTimeout: 30 * time.Second,
		Calls: []Call{
			{Service: "dynamodb", Operation: "PutItem", Action: "dynamodb:PutItem", Resource: Table,
				Why: "SubmitTask writes the task with a conditional put on its idempotency key"},
			{Service: "dynamodb", Operation: "GetItem", Action: "dynamodb:GetItem", Resource: Table,
				Why: "GetTask reads a task with a consistent read"},
			{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table,
				Why: "SubmitTask moves the task ACCEPTED -> QUEUED after SendMessage, and takes a lapsed enqueue claim before re-sending (conditional)"},
			{Service: "sqs", Operation: "SendMessage", Action: "sqs:SendMessage", Resource: Queue,
				Why: "SubmitTask enqueues the task, and re-enqueues a task stranded in ACCEPTED on retry once its claim lapsed"},
		},
	},
	{
		// The dead-letter processor: one task while the DLQ is empty, two
		// while anything waits in it.
		Name: "dlq", Package: "./services/dlq", Ready: "dlq drainer started",
		CPU: 256, Memory: 512, MinCount: 1, MaxCount: 2, StopTimeout: 30 * time.Second,
		Calls: []Call{
			{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table,
				Why: "counts a re-drive or marks the task DEAD (recorded failures at the limit), and takes a stranded task's enqueue claim"},
			{Service: "dynamodb", Operation: "Query", Action: "dynamodb:Query", Resource: PendingIndex,
				Why: "deviation from the design's role table (added): lists tasks stranded in ACCEPTED from the sparse pending index, to queue them without the client"},
			{Service: "sqs", Operation: "SendMessage", Action: "sqs:SendMessage", Resource: Queue,
				Why: "deviation from the design's role table (added): re-drives a dead letter whose task never failed, and queues stranded tasks"},
			{Service: "sqs", Operation: "ReceiveMessage", Action: "sqs:ReceiveMessage", Resource: DLQ,
				Why: "long-polls the dead-letter queue, asking for ApproximateReceiveCount"},
			{Service: "sqs", Operation: "DeleteMessageBatch", Action: "sqs:DeleteMessage", Resource: DLQ,
				Why: "deletes recorded messages in batches (authorised by sqs:DeleteMessage)"},
		},
	},
	{
		// The stop timeout is Fargate's maximum: in-flight tasks get all of
		// it but 10 s to finish (CONVEYOR_STOP_BUDGET).
		Name: "worker", Package: "./services/worker", Ready: "worker started",
		CPU: 1024, Memory: 2048, MinCount: 4, MaxCount: 20, StopTimeout: 120 * time.Second,
		Calls: []Call{
			{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table,
				Why: "the run lease (start, renew, release) and the fenced outcomes SUCCEEDED, FAILED, DEAD (conditional on the owner)"},
			{Service: "sqs", Operation: "ReceiveMessage", Action: "sqs:ReceiveMessage", Resource: Queue,
				Why: "long-polls the tasks queue in batches"},
			{Service: "sqs", Operation: "DeleteMessageBatch", Action: "sqs:DeleteMessage", Resource: Queue,
				Why: "deletes finished messages in batches of up to 10 (authorised by sqs:DeleteMessage)"},
			{Service: "sqs", Operation: "ChangeMessageVisibility", Action: "sqs:ChangeMessageVisibility", Resource: Queue,
				Why: "deviation from the design's role table (added): sets the retry delay of a failed task (its visibility timeout)"},
			{Service: "sqs", Operation: "ChangeMessageVisibilityBatch", Action: "sqs:ChangeMessageVisibility", Resource: Queue,
				Why: "deviation from the design's role table (added): one batched visibility heartbeat for all messages in hand, and on SIGTERM visibility 0 to hand unstarted messages back so another worker takes them at once (authorised by sqs:ChangeMessageVisibility)"},
		},
	},
}

// Names lists the services' names in name order.
func Names() []string {
	out := make([]string, len(Services))
	for i, s := range Services {
		out[i] = s.Name
	}
	slices.Sort(out)
	return out
}

// Lookup returns the service called name. An unknown name is an error that
// lists the known ones, so a typo is fixed in one step.
func Lookup(name string) (Service, error) {
	i := slices.IndexFunc(Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, fmt.Errorf("unknown service %q: the services in services/catalog are %s", name, strings.Join(Names(), ", "))
	}
	return Services[i], nil
}

// Actions returns the distinct IAM actions of the service's calls per
// resource kind, in call order: the statements its task role must grant.
func (s Service) Actions() map[string][]string {
	out := map[string][]string{}
	for _, c := range s.Calls {
		if !slices.Contains(out[c.Resource], c.Action) {
			out[c.Resource] = append(out[c.Resource], c.Action)
		}
	}
	return out
}
