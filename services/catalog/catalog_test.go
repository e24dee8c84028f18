package catalog

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-dev/conveyor/internal/testenv"
)

// fargateSizes are the task sizes Fargate accepts for Linux tasks: CPU units
// to the memory range in MiB and its step (256 takes 512, 1024 or 2048).
// Source:
// https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
var fargateSizes = map[int]struct{ min, max, step int }{
	512:  {1024, 4096, 1024},
	1024: {2048, 8192, 1024},
	2048: {4096, 16384, 1024},
	4096: {8192, 30720, 1024},
}

func fargateSizeOK(cpu, memory int) bool {
	if cpu == 256 {
		return memory == 512 || memory == 1024 || memory == 2048
	}
	r, ok := fargateSizes[cpu]
	return ok && memory >= r.min && memory <= r.max && (memory-r.min)%r.step == 0
}

func TestEveryServiceIsDeployable(t *testing.T) {
	root := testenv.RepoRoot(t)
	if !slices.IsSorted(Names()) {
		t.Errorf("Names() = %v, not in name order (build lists and action defaults are derived from it)", Names())
	}
	name := regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	seen := map[string]bool{}
	for _, s := range Services {
		if !name.MatchString(s.Name) {
			t.Errorf("service %q: a name is lower-case letters, digits and '-' (it names a container, an ECR repository and an ECS service)", s.Name)
		}
		if seen[s.Name] {
			t.Errorf("service %q declared twice", s.Name)
		}
		seen[s.Name] = true
		if s.Package != "./services/"+s.Name {
			t.Errorf("%s: package %q, want ./services/%s (the binary's name is the package's last element)", s.Name, s.Package, s.Name)
		}
		if m, _ := filepath.Glob(filepath.Join(root, s.Package, "*.go")); len(m) == 0 {
			t.Errorf("%s: no Go files in %s", s.Name, s.Package)
		}
		if !fargateSizeOK(s.CPU, s.Memory) {
			t.Errorf("%s: %d CPU / %d MiB is not a Fargate task size", s.Name, s.CPU, s.Memory)
		}
		if s.MinCount < 1 || s.MaxCount < s.MinCount {
			t.Errorf("%s: counts %d..%d; want 1 <= min <= max", s.Name, s.MinCount, s.MaxCount)
		}
		// Fargate's stopTimeout range. Source:
		// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html (stopTimeout)
		if s.StopTimeout < 2*time.Second || s.StopTimeout > 120*time.Second || s.StopTimeout%time.Second != 0 {
			t.Errorf("%s: stop timeout %s; Fargate takes whole seconds from 2 to 120", s.Name, s.StopTimeout)
		}
		if s.Ready == "" || !codeSays(t, filepath.Join(root, s.Package), strconv.Quote(s.Ready)) {
			t.Errorf("%s: Ready %q is not a message logged under %s: local runs would wait for it in vain", s.Name, s.Ready, s.Package)
		}
		if s.Port < 0 || s.Port > 65535 {
			t.Errorf("%s: port %d", s.Name, s.Port)
		}
		checkCalls(t, s)
	}
}

// codeSays reports whether a Go file under dir holds the literal lit.
func codeSays(t *testing.T, dir, lit string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		found = found || strings.Contains(string(b), lit)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func checkCalls(t *testing.T, s Service) {
	t.Helper()
	op := regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	if len(s.Calls) == 0 {
		t.Errorf("service %q has no calls listed: its task role would grant nothing", s.Name)
	}
	seen := map[string]bool{}
	for _, c := range s.Calls {
		if c.Service != "dynamodb" && c.Service != "sqs" {
			t.Errorf("%s: %s: unexpected AWS service %q", s.Name, c.Operation, c.Service)
		}
		if !op.MatchString(c.Operation) {
			t.Errorf("%s: operation %q is not an SDK operation name", s.Name, c.Operation)
		}
		if !strings.HasPrefix(c.Action, c.Service+":") {
			t.Errorf("%s: %s: action %q is not in service %q", s.Name, c.Operation, c.Action, c.Service)
		}
		if c.Resource != Table && c.Resource != PendingIndex && c.Resource != Queue && c.Resource != DLQ {
			t.Errorf("%s: %s: resource %q is not table, pending-index, queue or dlq", s.Name, c.Operation, c.Resource)
		}
		if (c.Service == "dynamodb") != (c.Resource == Table || c.Resource == PendingIndex) {
			t.Errorf("%s: %s: %s call on resource %q", s.Name, c.Operation, c.Service, c.Resource)
		}
		if strings.TrimSpace(c.Why) == "" {
			t.Errorf("%s: %s: Why is empty", s.Name, c.Operation)
		}
		if seen[c.Operation] {
			t.Errorf("%s: %s listed twice", s.Name, c.Operation)
		}
		seen[c.Operation] = true
	}
}

func TestActionsAreDistinctPerResourceInCallOrder(t *testing.T) {
	s := Service{Calls: []Call{
		{Action: "sqs:DeleteMessage", Resource: Queue},
		{Action: "sqs:ReceiveMessage", Resource: Queue},
		{Action: "sqs:DeleteMessage", Resource: Queue}, // DeleteMessageBatch: same action
		{Action: "sqs:DeleteMessage", Resource: DLQ},   // same action, other resource
		{Action: "dynamodb:UpdateItem", Resource: Table},
	}}
	got := s.Actions()
	want := map[string][]string{
		Queue: {"sqs:DeleteMessage", "sqs:ReceiveMessage"},
		DLQ:   {"sqs:DeleteMessage"},
		Table: {"dynamodb:UpdateItem"},
	}
	if len(got) != len(want) {
		t.Fatalf("Actions() = %v, want %v", got, want)
	}
	for r, w := range want {
		if !slices.Equal(got[r], w) {
			t.Errorf("Actions()[%s] = %v, want %v", r, got[r], w)
		}
	}
}

func TestLookupNamesTheKnownServicesOnATypo(t *testing.T) {
	if s, err := Lookup("worker"); err != nil || s.Name != "worker" || s.StopTimeout != 120*time.Second {
		t.Errorf("Lookup(worker) = %+v, %v", s, err)
	}
	_, err := Lookup("wrker")
	if err == nil || !strings.Contains(err.Error(), `"wrker"`) || !strings.Contains(err.Error(), strings.Join(Names(), ", ")) {
		t.Errorf("Lookup(wrker) error %v; want it to name the typo and list %v", err, Names())
	}
}

func TestEveryAddedDeviationIsAListedCall(t *testing.T) {
	for _, d := range Deviations {
		if d.Why == "" {
			t.Errorf("%s %s: deviation without a reason", d.Service, d.Action)
		}
		s, err := Lookup(d.Service)
		if err != nil {
			t.Errorf("deviation for %s: %v", d.Service, err)
			continue
		}
		listed := slices.ContainsFunc(s.Calls, func(c Call) bool { return c.Action == d.Action })
		if listed != d.Added {
			t.Errorf("%s %s: Added=%v but listed=%v", d.Service, d.Action, d.Added, listed)
		}
	}
}

func TestEveryServiceDirectoryIsCatalogued(t *testing.T) {
	root := testenv.RepoRoot(t)
	ents, err := os.ReadDir(filepath.Join(root, "services"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		mains, _ := filepath.Glob(filepath.Join(root, "services", e.Name(), "main.go"))
		if len(mains) == 0 || e.Name() == "taskctl" { // taskctl is the client, not a service
			continue
		}
		if _, err := Lookup(e.Name()); err != nil {
			t.Errorf("services/%s has a main.go but no entry in services/catalog: add one (CONTRIBUTING.md, adding a service)", e.Name())
		}
	}
}
