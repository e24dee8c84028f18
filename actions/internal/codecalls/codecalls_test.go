package codecalls

import (
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/services/catalog"
)

func TestReachableCallsPerMainWithIAMExceptions(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks Go packages")
	}
	svcs, err := Analyze(filepath.Join("testdata", "app"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		// SendMessageBatch is authorised by sqs:SendMessage; Delete is not reached.
		"one": {"dynamodb:GetItem", "sqs:SendMessage"},
		// a paginator reaches Scan; a method value names ChangeMessageVisibility
		"two": {"dynamodb:Scan", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"},
	}
	if len(svcs) != len(want) {
		t.Fatalf("found mains %v, want one and two", keys(svcs))
	}
	for name, w := range want {
		if got := svcs[name].Actions(); !slices.Equal(got, w) {
			t.Errorf("%s: actions %v, want %v", name, got, w)
		}
	}
	for _, c := range svcs["one"].Calls {
		if c.Operation == "SendMessageBatch" && (filepath.Base(c.Pos.Filename) != "shared.go" || c.Pos.Line != 20) {
			t.Errorf("SendMessageBatch found at %s, want shared.go:20", c.Pos)
		}
	}
}

func TestExceptionsMap(t *testing.T) {
	cases := map[string][]string{
		"sqs DeleteMessageBatch":                        {"sqs:DeleteMessage"},
		"sqs ChangeMessageVisibilityBatch":              {"sqs:ChangeMessageVisibility"},
		"sqs SendMessageBatch":                          {"sqs:SendMessage"},
		"s3 HeadObject":                                 {"s3:GetObject"},
		"dynamodb PutItem":                              {"dynamodb:PutItem"},
		"elasticloadbalancingv2 DescribeTargetHealth":   {"elasticloadbalancing:DescribeTargetHealth"},
		"applicationautoscaling RegisterScalableTarget": {"application-autoscaling:RegisterScalableTarget"},
	}
	for in, want := range cases {
		f := strings.Fields(in)
		if got := Actions(f[0], f[1]); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
}

// TestDeclaredCallsMatchTheServices keeps the service catalogue's calls
// (services/catalog, which the task roles and the contract are checked
// against) equal to what the analyser finds in each service's code.
func TestDeclaredCallsMatchTheServices(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks the services")
	}
	root := filepath.Join("..", "..", "..", "services")
	found, err := Analyze(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range catalog.Services {
		s, ok := found[svc.Name]
		if !ok {
			t.Errorf("services/%s has no main package", svc.Name)
			continue
		}
		var got []string
		seen := map[string]bool{}
		for _, c := range s.Calls {
			for _, a := range c.Actions {
				k := c.Operation + " " + a
				if !seen[k] {
					seen[k] = true
					got = append(got, k)
				}
			}
		}
		sort.Strings(got)
		var declared []string
		for _, c := range svc.Calls {
			declared = append(declared, c.Operation+" "+c.Action)
		}
		sort.Strings(declared)
		if !slices.Equal(got, declared) {
			t.Errorf("services/%s calls (operation action) %v, but services/catalog declares %v: update the catalogue or the code", svc.Name, got, declared)
		}
	}
}

func keys(m map[string]Service) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
