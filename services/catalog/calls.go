package catalog

// Call is one AWS API operation a service makes, the IAM action that
// authorises it, and the resource it is made on.
type Call struct {
	Service   string // AWS service prefix: "dynamodb", "sqs"
	Operation string // SDK operation name: "PutItem", "DeleteMessageBatch"
	Action    string // IAM action that authorises it: "dynamodb:PutItem", "sqs:DeleteMessage"
	Resource  string // Table, Queue or DLQ
	Why       string // what the service needs it for; deviations from the design's role table say so
}

// Resource kinds a call is made on.
const (
	Table = "table" // the tasks table
	Queue = "queue" // the tasks queue
	DLQ   = "dlq"   // the dead-letter queue
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
	{Service: "worker", Action: "dynamodb:PutItem", Added: false,
		Why: "the worker only transitions existing items with conditional UpdateItem; it never creates one"},
}
