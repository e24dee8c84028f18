package catalog

// Call is one AWS API operation a service makes, the IAM action that
// authorises it, and the resource it is made on.
type Call struct {
	Service   string // AWS service prefix: "dynamodb", "sqs"
	Operation string // SDK operation name: "PutItem", "DeleteMessageBatch"
	Action    string // IAM action that authorises it: "dynamodb:PutItem", "sqs:DeleteMessage"
	Resource  string // Table, PendingIndex, Queue or DLQ
	Why       string // what the service needs it for; deviations from the design's role table say so
}

// Resource kinds a call is made on.
const (
	Table        = "table"         // the tasks table
	PendingIndex = "pending-index" // the table's sparse index of ACCEPTED tasks
	Queue        = "queue"         // the tasks queue
	DLQ          = "dlq"           // the dead-letter queue
)

// Deviation is a difference between a service's calls and the task role
// table of the original design (each service's role granting exactly the
// calls its code makes), with the reason it is deliberate.
type Deviation struct {
	Service string
	Action  string
	Added   bool // true: granted beyond the design; false: in the design but not granted
	Why     string
}

// Deviations lists every deliberate difference from the design's role table.
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
