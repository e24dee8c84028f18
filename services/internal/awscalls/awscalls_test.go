package awscalls

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestEveryCallIsWellFormed(t *testing.T) {
	op := regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	for _, svc := range []string{"api", "worker", "dlq"} {
		calls, ok := Services[svc]
		if !ok || len(calls) == 0 {
			t.Fatalf("service %q has no calls listed", svc)
		}
		seen := map[string]bool{}
		for _, c := range calls {
			if c.Service != "dynamodb" && c.Service != "sqs" {
				t.Errorf("%s: %s: unexpected AWS service %q", svc, c.Operation, c.Service)
			}
			if !op.MatchString(c.Operation) {
				t.Errorf("%s: operation %q is not an SDK operation name", svc, c.Operation)
			}
			if !strings.HasPrefix(c.Action, c.Service+":") {
				t.Errorf("%s: %s: action %q is not in service %q", svc, c.Operation, c.Action, c.Service)
			}
			if c.Resource != Table && c.Resource != PendingIndex && c.Resource != Queue && c.Resource != DLQ {
				t.Errorf("%s: %s: resource %q is not table, pending-index, queue or dlq", svc, c.Operation, c.Resource)
			}
			if (c.Service == "dynamodb") != (c.Resource == Table || c.Resource == PendingIndex) {
				t.Errorf("%s: %s: %s call on resource %q", svc, c.Operation, c.Service, c.Resource)
			}
			if strings.TrimSpace(c.Why) == "" {
				t.Errorf("%s: %s: Why is empty", svc, c.Operation)
			}
			if seen[c.Operation] {
				t.Errorf("%s: %s listed twice", svc, c.Operation)
			}
			seen[c.Operation] = true
		}
	}
}

// The contract (notes/contract.md) fixes each service's IAM actions; the list
// must grant exactly those.
func TestActionsMatchTheContract(t *testing.T) {
	want := map[string]map[string][]string{
		"api": {
			Table: {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"},
			Queue: {"sqs:SendMessage"},
		},
		"worker": {
			Table: {"dynamodb:UpdateItem"},
			Queue: {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"},
		},
		"dlq": {
			Table:        {"dynamodb:UpdateItem"},
			PendingIndex: {"dynamodb:Query"},
			Queue:        {"sqs:SendMessage"},
			DLQ:          {"sqs:ReceiveMessage", "sqs:DeleteMessage"},
		},
	}
	for svc, byRes := range want {
		got := Actions(svc)
		if len(got) != len(byRes) {
			t.Errorf("%s: resources %v, want %v", svc, got, byRes)
		}
		for res, actions := range byRes {
			g := slices.Clone(got[res])
			w := slices.Clone(actions)
			slices.Sort(g)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("%s on %s: actions %v, want %v", svc, res, g, w)
			}
		}
	}
}

func TestEveryAddedDeviationIsAListedCall(t *testing.T) {
	for _, d := range Deviations {
		if d.Why == "" {
			t.Errorf("%s %s: deviation without a reason", d.Service, d.Action)
		}
		listed := slices.ContainsFunc(Services[d.Service], func(c Call) bool { return c.Action == d.Action })
		if listed != d.Added {
			t.Errorf("%s %s: Added=%v but listed=%v", d.Service, d.Action, d.Added, listed)
		}
	}
}
