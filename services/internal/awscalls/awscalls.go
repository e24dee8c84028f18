// Package awscalls is the one place that lists every AWS call each service
// makes. The task roles in infra/ and the least-privilege contract in
// policies/ are built from this list, and a test keeps it equal to what the
// service code calls.
package awscalls

// Call is one AWS API operation a service makes, the IAM action that
// authorises it, and the resource it is made on.
type Call struct {
	Service   string // AWS service prefix: "dynamodb", "sqs"
	Operation string // SDK operation name: "PutItem", "DeleteMessageBatch"
	Action    string // IAM action that authorises it: "dynamodb:PutItem", "sqs:DeleteMessage"
	Resource  string // "table" (tasks table), "pending-index" (its sparse index of ACCEPTED tasks), "queue" (tasks queue), "dlq" (dead-letter queue)
	Why       string // what the service needs it for; deviations from DESIGN.md say so
}

// Resource kinds a call is made on.
const (
	Table        = "table"
	PendingIndex = "pending-index"
	Queue        = "queue"
	DLQ          = "dlq"
)

// Services maps a service name (api, worker, dlq) to the calls it makes.
var Services = map[string][]Call{
	"api": {
		{Service: "dynamodb", Operation: "PutItem", Action: "dynamodb:PutItem", Resource: Table,
			Why: "SubmitTask writes the task with a conditional put on its idempotency key"},
		{Service: "dynamodb", Operation: "GetItem", Action: "dynamodb:GetItem", Resource: Table,
			Why: "GetTask reads a task with a consistent read"},
		{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table,
			Why: "SubmitTask moves the task ACCEPTED -> QUEUED after SendMessage, and takes a lapsed enqueue claim before re-sending (conditional)"},
		{Service: "sqs", Operation: "SendMessage", Action: "sqs:SendMessage", Resource: Queue,
			Why: "SubmitTask enqueues the task, and re-enqueues a task stranded in ACCEPTED on retry once its claim lapsed"},
	},
	"worker": {
		{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table,
			Why: "the run lease (start, renew, release) and the fenced outcomes SUCCEEDED, FAILED, DEAD (conditional on the owner)"},
		{Service: "sqs", Operation: "ReceiveMessage", Action: "sqs:ReceiveMessage", Resource: Queue,
			Why: "long-polls the tasks queue in batches"},
		{Service: "sqs", Operation: "DeleteMessageBatch", Action: "sqs:DeleteMessage", Resource: Queue,
			Why: "deletes finished messages in batches of up to 10 (authorised by sqs:DeleteMessage)"},
		{Service: "sqs", Operation: "ChangeMessageVisibility", Action: "sqs:ChangeMessageVisibility", Resource: Queue,
			Why: "deviation from DESIGN.md (added): sets the retry delay of a failed task (its visibility timeout)"},
		{Service: "sqs", Operation: "ChangeMessageVisibilityBatch", Action: "sqs:ChangeMessageVisibility", Resource: Queue,
			Why: "deviation from DESIGN.md (added): one batched visibility heartbeat for all messages in hand, and on SIGTERM visibility 0 to hand unstarted messages back so another worker takes them at once (authorised by sqs:ChangeMessageVisibility)"},
	},
	"dlq": {
		{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table,
			Why: "counts a re-drive or marks the task DEAD (recorded failures at the limit), and takes a stranded task's enqueue claim"},
		{Service: "dynamodb", Operation: "Query", Action: "dynamodb:Query", Resource: PendingIndex,
			Why: "deviation from DESIGN.md (added): lists tasks stranded in ACCEPTED from the sparse pending index, to queue them without the client"},
		{Service: "sqs", Operation: "SendMessage", Action: "sqs:SendMessage", Resource: Queue,
			Why: "deviation from DESIGN.md (added): re-drives a dead letter whose task never failed, and queues stranded tasks"},
		{Service: "sqs", Operation: "ReceiveMessage", Action: "sqs:ReceiveMessage", Resource: DLQ,
			Why: "long-polls the dead-letter queue, asking for ApproximateReceiveCount"},
		{Service: "sqs", Operation: "DeleteMessageBatch", Action: "sqs:DeleteMessage", Resource: DLQ,
			Why: "deletes recorded messages in batches (authorised by sqs:DeleteMessage)"},
	},
}

// Deviation is a difference between a service's calls and the role table in
// DESIGN.md, with the reason it is deliberate.
type Deviation struct {
	Service string
	Action  string
	Added   bool // true: granted beyond the design; false: in the design but not granted
	Why     string
}

// Deviations lists every deliberate difference from DESIGN.md's role table.
var Deviations = []Deviation{
	{Service: "worker", Action: "sqs:ChangeMessageVisibility", Added: true,
		Why: "visibility heartbeat for tasks longer than the visibility timeout, retry delay after a failure, and visibility 0 to hand back unstarted messages on SIGTERM"},
	{Service: "dlq", Action: "dynamodb:Query", Added: true,
		Why: "a task left ACCEPTED by a crash, a forced stop or a failed SendMessage is found on the sparse pending index (only unqueued tasks are in it) and queued, instead of waiting for a client retry that may never come"},
	{Service: "dlq", Action: "sqs:SendMessage", Added: true,
		Why: "deliveries are not failures: a dead letter whose task has fewer recorded failures than the limit is put back on the tasks queue (re-driven), and recovered stranded tasks are queued"},
	{Service: "worker", Action: "dynamodb:PutItem", Added: false,
		Why: "the worker only transitions existing items with conditional UpdateItem; it never creates one"},
}

// Actions returns the distinct IAM actions of a service per resource kind,
// in list order: the statements of its task role.
func Actions(service string) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, c := range Services[service] {
		k := c.Resource + " " + c.Action
		if seen[k] {
			continue
		}
		seen[k] = true
		out[c.Resource] = append(out[c.Resource], c.Action)
	}
	return out
}
