package codecalls

import (
	"go/ast"
	"go/constant"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
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

// TestDeclaredCallsMatchTheServices keeps services/internal/awscalls (the
// list the task roles are built from) equal to what the analyser finds in
// services/api, services/worker and services/dlq. awscalls is internal to
// services/, so its map literal is read through go/packages and go/types.
func TestDeclaredCallsMatchTheServices(t *testing.T) {
	if testing.Short() {
		t.Skip("loads and type-checks the services")
	}
	root := filepath.Join("..", "..", "..", "services")
	declared := declaredCalls(t, filepath.Join(root, "internal", "awscalls"))
	found, err := Analyze(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"api", "worker", "dlq"} {
		s, ok := found[svc]
		if !ok {
			t.Errorf("services/%s has no main package", svc)
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
		if w := declared[svc]; !slices.Equal(got, w) {
			t.Errorf("services/%s calls (operation action) %v, but awscalls declares %v: update services/internal/awscalls or the code", svc, got, w)
		}
	}
}

// declaredCalls reads awscalls.Services: service -> sorted "Operation Action".
func declaredCalls(t *testing.T, dir string) map[string][]string {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo, Dir: dir}
	pkgs, err := packages.Load(cfg, ".")
	if err != nil || len(pkgs) != 1 || len(pkgs[0].Errors) > 0 {
		t.Fatalf("loading %s: %v %v", dir, err, pkgs)
	}
	p := pkgs[0]
	str := func(e ast.Expr) string {
		tv, ok := p.TypesInfo.Types[e]
		if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
			t.Fatalf("awscalls: %T at %s is not a constant string", e, p.Fset.Position(e.Pos()))
		}
		return constant.StringVal(tv.Value)
	}
	out := map[string][]string{}
	for _, f := range p.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "Services" {
				return true
			}
			m := vs.Values[0].(*ast.CompositeLit)
			for _, el := range m.Elts {
				kv := el.(*ast.KeyValueExpr)
				svc := str(kv.Key)
				for _, c := range kv.Value.(*ast.CompositeLit).Elts {
					fields := map[string]string{}
					for _, fe := range c.(*ast.CompositeLit).Elts {
						fkv := fe.(*ast.KeyValueExpr)
						fields[fkv.Key.(*ast.Ident).Name] = str(fkv.Value)
					}
					out[svc] = append(out[svc], fields["Operation"]+" "+fields["Action"])
				}
				sort.Strings(out[svc])
			}
			return false
		})
	}
	if len(out) == 0 {
		t.Fatal("awscalls.Services not found")
	}
	return out
}

func keys(m map[string]Service) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
