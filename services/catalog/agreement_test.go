package catalog_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"gopkg.in/yaml.v3"

	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// TestEveryFileAgreesWithTheCatalogue compares every file that cannot
// import the catalogue with it, and names each difference with its
// file:line. It is also the checklist of the recipe in CONTRIBUTING.md:
// whatever it reports after a new catalogue entry is what is left to do.
func TestEveryFileAgreesWithTheCatalogue(t *testing.T) {
	for _, p := range agreement(testenv.RepoRoot(t), catalog.Services) {
		t.Error(p)
	}
}

// agreement lists every difference between the files under root and svcs.
func agreement(root string, svcs []catalog.Service) []string {
	var problems []string
	add := func(ps []string, err error) {
		problems = append(problems, ps...)
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	prod := filepath.Join(root, "infra", "environments", "production")
	add(terraformAgrees(prod, svcs))
	add(contractAgrees(filepath.Join(root, "policies"), svcs))
	for _, dir := range []string{prod, filepath.Join(root, "policies")} {
		for _, ext := range []string{".tf", ".hcl"} {
			files, err := parseDir(dir, ext)
			if err == nil {
				problems = append(problems, hclListsAgree(files, svcs)...)
			}
		}
	}
	yamls, _ := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	yamls = append(yamls, filepath.Join(root, "actions", "build-push", "action.yml"))
	for _, y := range yamls {
		add(yamlAgrees(y, svcs))
	}
	scripts, _ := filepath.Glob(filepath.Join(root, "bench", "*.sh"))
	for _, sh := range scripts {
		add(linesAgree(sh, svcs))
	}
	// Paths relative to the repository read the same on every machine.
	for i, p := range problems {
		problems[i] = strings.ReplaceAll(p, root+string(filepath.Separator), "")
	}
	return problems
}

// terraformAgrees compares the ecs-service calls of the production root
// module with the catalogue: one per service, with its size, counts, stop
// timeout and port.
func terraformAgrees(dir string, svcs []catalog.Service) ([]string, error) {
	got, problems, err := terraformServices(dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]tfService{}
	for _, s := range got {
		byName[s.name] = s
	}
	for _, s := range svcs {
		tf, ok := byName[s.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no ECS service for %q (a modules/ecs-service call with container_name %q): add it to the services in the Terraform", dir, s.Name, s.Name))
			continue
		}
		want := map[string]int64{"cpu": int64(s.CPU), "memory": int64(s.Memory), "min_count": int64(s.MinCount),
			"max_count": int64(s.MaxCount), "stop_timeout": int64(s.StopTimeout.Seconds())}
		if s.Port != 0 {
			want["container_port"] = int64(s.Port)
		}
		for _, arg := range serviceArgs {
			if g, w := tf.facts[arg], want[arg]; g != w {
				problems = append(problems, fmt.Sprintf("%s: service %s: %s is %d in the Terraform, %d in services/catalog", tf.at, s.Name, arg, g, w))
			}
		}
		delete(byName, s.Name)
	}
	for _, tf := range byName {
		problems = append(problems, fmt.Sprintf("%s: ECS service %q is not in services/catalog", tf.at, tf.name))
	}
	return problems, nil
}

// Resource expressions of the contract, by the catalogue's resource kinds.
var contractResources = map[string]string{
	"module.data.table_arn":         catalog.Table,
	"module.data.pending_index_arn": catalog.PendingIndex,
	"module.data.queue_arn":         catalog.Queue,
	"module.data.dlq_arn":           catalog.DLQ,
}

// roleLabel matches a per-service role address in either Terraform shape:
// module.api.aws_iam_role.task or module.service["api"].aws_iam_role.task.
var roleLabel = regexp.MustCompile(`^module\.(?:([a-z][a-z0-9_-]*)|[a-z][a-z0-9_-]*\["([a-z][a-z0-9-]*)"\])\.aws_iam_role\.(task|execution)$`)

// contractAgrees compares the contract's per-service roles with the
// catalogue: every service has a task role whose `code` is the service and
// whose allow blocks grant exactly the catalogue's actions per resource, and
// an execution role.
func contractAgrees(dir string, svcs []catalog.Service) ([]string, error) {
	files, err := parseDir(dir, ".hcl")
	if err != nil {
		return nil, err
	}
	type role struct {
		at      string
		actions map[string][]string
	}
	task := map[string]role{}
	exec := map[string]bool{}
	var problems []string
	for _, f := range files {
		for _, b := range f.body.Blocks {
			if b.Type != "role" || len(b.Labels) != 1 {
				continue
			}
			at := fmt.Sprintf("%s:%d", b.DefRange().Filename, b.DefRange().Start.Line)
			if m := roleLabel.FindStringSubmatch(b.Labels[0]); m != nil && m[3] == "execution" {
				exec[m[1]+m[2]] = true
			}
			code, ok := b.Body.Attributes["code"]
			if !ok {
				continue
			}
			v, diags := code.Expr.Value(nil)
			if diags.HasErrors() || v.Type() != cty.String {
				problems = append(problems, fmt.Sprintf("%s: code is not a string", at))
				continue
			}
			r := role{at: at, actions: map[string][]string{}}
			for _, allow := range b.Body.Blocks {
				if allow.Type != "allow" {
					continue
				}
				acts, _ := allow.Body.Attributes["actions"].Expr.Value(nil)
				res := allow.Body.Attributes["resources"]
				tup, ok := res.Expr.(*hclsyntax.TupleConsExpr)
				if !ok || acts.IsNull() || !acts.CanIterateElements() {
					problems = append(problems, fmt.Sprintf("%s:%d: an allow block of a service role needs literal actions and a list of resources", at, allow.DefRange().Start.Line))
					continue
				}
				for _, e := range tup.Exprs {
					kind := contractResources[exprText(e)]
					if kind == "" {
						problems = append(problems, fmt.Sprintf("%s: resource %s is none of %v", rangeAt(e.Range()), exprText(e), slices.Sorted(maps.Keys(contractResources))))
						continue
					}
					for it := acts.ElementIterator(); it.Next(); {
						_, a := it.Element()
						r.actions[kind] = append(r.actions[kind], a.AsString())
					}
				}
			}
			task[v.AsString()] = r
		}
	}
	for _, s := range svcs {
		r, ok := task[s.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no role with code = %q: add the service's task role block (its actions are its catalogue calls)", dir, s.Name))
		} else {
			want := s.Actions()
			for _, kind := range []string{catalog.Table, catalog.PendingIndex, catalog.Queue, catalog.DLQ} {
				g, w := slices.Sorted(slices.Values(r.actions[kind])), slices.Sorted(slices.Values(want[kind]))
				if !slices.Equal(g, w) {
					problems = append(problems, fmt.Sprintf("%s: role for %s grants %v on the %s, services/catalog lists calls needing %v", r.at, s.Name, g, kind, w))
				}
			}
			delete(task, s.Name)
		}
		if !exec[s.Name] {
			problems = append(problems, fmt.Sprintf("%s: no execution role for %s (module.%s.aws_iam_role.execution or module.<name>[%q].aws_iam_role.execution)", dir, s.Name, s.Name, s.Name))
		}
	}
	for name, r := range task {
		problems = append(problems, fmt.Sprintf("%s: role with code = %q, which is not in services/catalog", r.at, name))
	}
	return problems, nil
}

// hclListsAgree finds every list and every object in the files that names
// two or more catalogued services (as strings, as module.<service> or as
// [\"<service>\"] keys) and reports those that leave one out: such a list is
// a hand-kept copy of the catalogue.
func hclListsAgree(files []tfFile, svcs []catalog.Service) []string {
	var problems []string
	check := func(r hcl.Range, named map[string]bool) {
		if len(named) < 2 {
			return
		}
		var missing []string
		for _, s := range svcs {
			if !named[s.Name] {
				missing = append(missing, s.Name)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: this list names %v but not %v (services/catalog)", rangeAt(r), slices.Sorted(maps.Keys(named)), missing))
		}
	}
	known := map[string]bool{}
	for _, s := range svcs {
		known[s.Name] = true
	}
	for _, f := range files {
		hclsyntax.VisitAll(f.body, func(n hclsyntax.Node) hcl.Diagnostics {
			named := map[string]bool{}
			switch e := n.(type) {
			case *hclsyntax.TupleConsExpr:
				for _, x := range e.Exprs {
					if s := serviceOf(x, known); s != "" {
						named[s] = true
					}
				}
				check(e.SrcRange, named)
			case *hclsyntax.ObjectConsExpr:
				for _, it := range e.Items {
					if k, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok {
						if s := serviceOf(k.Wrapped, known); s != "" {
							named[s] = true
						}
					}
				}
				check(e.SrcRange, named)
			}
			return nil
		})
	}
	return problems
}

// serviceOf is the catalogued service an expression names: "api", api (an
// object key), module.api.<anything> or <anything>["api"].
func serviceOf(e hclsyntax.Expression, known map[string]bool) string {
	switch x := e.(type) {
	case *hclsyntax.TemplateExpr:
		if v, d := x.Value(nil); !d.HasErrors() && v.Type() == cty.String && known[v.AsString()] {
			return v.AsString()
		}
	case *hclsyntax.LiteralValueExpr:
		if x.Val.Type() == cty.String && known[x.Val.AsString()] {
			return x.Val.AsString()
		}
	case *hclsyntax.ScopeTraversalExpr:
		tr := x.Traversal
		if len(tr) == 1 && known[tr.RootName()] {
			return tr.RootName() // a bare object key
		}
		if tr.RootName() == "module" && len(tr) > 1 {
			if a, ok := tr[1].(hcl.TraverseAttr); ok && known[a.Name] {
				return a.Name
			}
		}
		for _, step := range tr {
			if ix, ok := step.(hcl.TraverseIndex); ok && ix.Key.Type() == cty.String && known[ix.Key.AsString()] {
				return ix.Key.AsString()
			}
		}
	case *hclsyntax.IndexExpr:
		if v, d := x.Key.Value(nil); !d.HasErrors() && v.Type() == cty.String && known[v.AsString()] {
			return v.AsString()
		}
	}
	return ""
}

// word matches a service name as a whole word in YAML text.
func word(name string) *regexp.Regexp {
	return regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(name) + `($|[^A-Za-z0-9_])`)
}

// linesAgree checks a text file: every line that names two or more
// catalogued services (a services input, a choice list, a shell case or
// array) names all of them.
func linesAgree(path string, svcs []catalog.Service) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var problems []string
	for i, line := range strings.Split(string(raw), "\n") {
		var named, missing []string
		for _, s := range svcs {
			if word(s.Name).MatchString(line) {
				named = append(named, s.Name)
			} else {
				missing = append(missing, s.Name)
			}
		}
		if len(named) >= 2 && len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s:%d: names %v but not %v (services/catalog): %s", path, i+1, named, missing, strings.TrimSpace(line)))
		}
	}
	return problems, nil
}

// yamlAgrees checks a workflow or action file: its lines (linesAgree), and
// every workflow_dispatch choice input that offers a service offers all of
// them.
func yamlAgrees(path string, svcs []catalog.Service) ([]string, error) {
	problems, err := linesAgree(path, svcs)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wf struct {
		On struct {
			WorkflowDispatch struct {
				Inputs map[string]struct {
					Type    string
					Options []string
				}
			} `yaml:"workflow_dispatch"`
		} `yaml:"on"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		return problems, fmt.Errorf("%s: %w", path, err)
	}
	for name, in := range wf.On.WorkflowDispatch.Inputs {
		offered := 0
		for _, s := range svcs {
			if slices.Contains(in.Options, s.Name) {
				offered++
			}
		}
		if offered == 0 {
			continue
		}
		for _, s := range svcs {
			if !slices.Contains(in.Options, s.Name) {
				problems = append(problems, fmt.Sprintf("%s: workflow_dispatch input %s offers %v but not %s (services/catalog)", path, name, in.Options, s.Name))
			}
		}
	}
	return problems, nil
}

func exprText(e hclsyntax.Expression) string {
	if st, ok := e.(*hclsyntax.ScopeTraversalExpr); ok {
		var b strings.Builder
		b.WriteString(st.Traversal.RootName())
		for _, step := range st.Traversal[1:] {
			switch s := step.(type) {
			case hcl.TraverseAttr:
				b.WriteString("." + s.Name)
			case hcl.TraverseIndex:
				b.WriteString("[" + s.Key.GoString() + "]")
			}
		}
		return b.String()
	}
	return fmt.Sprintf("%T", e)
}

func rangeAt(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }
