package catalog_test

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/internal/terraformrc"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// The fourth service of the recipe test: a second dead-letter drainer, so
// that its AWS calls, size and Terraform are the dlq's and every Terraform
// or contract entry for it is the dlq's entry renamed.
const (
	toyMain = `// Command toy is the example service CONTRIBUTING.md's recipe adds: a
// second dead-letter drainer.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/services/dlq/deadletter"
	"github.com/conveyor-dev/conveyor/services/internal/config"
	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/servicemain"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

func main() { servicemain.Run("toy", run) }

func run(ctx context.Context, log *slog.Logger) error {
	c, err := deadletter.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	awsCfg, err := config.AWS(ctx)
	if err != nil {
		return err
	}
	log.Info("toy started")
	sqsc := sqs.NewFromConfig(awsCfg)
	return deadletter.New(c, taskstore.New(dynamodb.NewFromConfig(awsCfg), c.Table),
		queue.New(sqsc, c.DLQURL), queue.New(sqsc, c.QueueURL), log).Run(ctx)
}
`
	toyEntry = `	{
		Name: "toy", Package: "./services/toy", Ready: "toy started",
		CPU: 256, Memory: 512, MinCount: 1, MaxCount: 2, StopTimeout: 30 * time.Second,
		Calls: []Call{
			{Service: "dynamodb", Operation: "UpdateItem", Action: "dynamodb:UpdateItem", Resource: Table, Why: "marks the task DEAD"},
			{Service: "sqs", Operation: "ReceiveMessage", Action: "sqs:ReceiveMessage", Resource: DLQ, Why: "long-polls the dead-letter queue"},
			{Service: "sqs", Operation: "DeleteMessageBatch", Action: "sqs:DeleteMessage", Resource: DLQ, Why: "deletes recorded messages"},
			{Service: "dynamodb", Operation: "Query", Action: "dynamodb:Query", Resource: PendingIndex, Why: "finds stranded tasks"},
			{Service: "sqs", Operation: "SendMessage", Action: "sqs:SendMessage", Resource: Queue, Why: "re-drives dead letters"},
		},
	},
`
)

// TestTheRecipeAddsAFourthService follows CONTRIBUTING.md's recipe in a
// copy of the repository: the service's code, one catalogue entry, and then
// what the catalogue test lists (the Terraform services, the contract
// blocks, the workflow lists), each made by renaming the dlq's entry. It
// checks that the catalogue test names the missing files before they are
// done and passes after, that build-push builds the new service by default,
// that policy-check accepts its role, and that a Terraform plan creates it.
func TestTheRecipeAddsAFourthService(t *testing.T) {
	if testing.Short() {
		t.Skip("copies the repository and builds, checks and plans it")
	}
	ctx := context.Background()
	repo := copyRepository(t, testenv.RepoRoot(t))

	// 1. The service's code, 2. its catalogue entry.
	write(t, filepath.Join(repo, "services", "toy", "main.go"), toyMain)
	cat := filepath.Join(repo, "services", "catalog", "catalog.go")
	src := read(t, cat)
	end := strings.Index(src, "\n}\n\n// Names")
	if end < 0 {
		t.Fatalf("%s: cannot find the end of the Services list", cat)
	}
	write(t, cat, src[:end+1]+toyEntry+src[end+1:])

	// Before the rest: the catalogue test names every file still to do.
	out, err := goCmd(ctx, repo, "test", "-count=1", "-run", "^TestEveryFileAgreesWithTheCatalogue$", "./services/catalog/")
	if err == nil {
		t.Fatalf("the catalogue test passed with only the code and the catalogue entry:\n%s", out)
	}
	for _, want := range []string{`no ECS service for "toy"`, `no role with code = "toy"`, "deploy.yml:", "rollback.yml:", "action.yml:"} {
		if !strings.Contains(out, want) {
			t.Errorf("before the recipe's last step, the catalogue test does not say %q:\n%s", want, out)
		}
	}

	// 3. What the test listed: each is the dlq's entry, renamed.
	for _, dir := range []string{filepath.Join(repo, "infra", "environments", "production"), filepath.Join(repo, "policies")} {
		for _, ext := range []string{".tf", ".hcl"} {
			files, err := parseDir(dir, ext)
			if err != nil {
				continue
			}
			for _, f := range files {
				cloneHCL(t, f, "dlq", "toy")
			}
		}
	}
	yamls, _ := filepath.Glob(filepath.Join(repo, ".github", "workflows", "*.yml"))
	scripts, _ := filepath.Glob(filepath.Join(repo, "bench", "*.sh"))
	yamls = append(append(yamls, filepath.Join(repo, "actions", "build-push", "action.yml")), scripts...)
	for _, y := range yamls {
		extendYAML(t, y, "dlq", "toy")
	}
	if out, err := goCmd(ctx, repo, "test", "-count=1", "-run", "^(TestEveryFileAgreesWithTheCatalogue|TestEveryServiceIsDeployable)$", "./services/catalog/"); err != nil {
		t.Fatalf("after the recipe, the catalogue test still fails:\n%s", out)
	}

	t.Run("the build list", func(t *testing.T) {
		dir := t.TempDir()
		out, err := goCmd(ctx, repo, "run", "./actions/build-push", "--push", "false", "--oci-layout", dir,
			"--platforms", "linux/amd64", "--revision", "recipe", "--source-date-epoch", "1767225600", "--registry-auth", "docker")
		if err != nil {
			t.Fatalf("build-push with its default services: %v\n%s", err, out)
		}
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, m := range im.Manifests {
			if ref := m.Annotations["org.opencontainers.image.ref.name"]; !strings.Contains(ref, "-sbom-") {
				refs = append(refs, ref)
			}
		}
		sort.Strings(refs)
		if want := []string{"api:recipe", "dlq:recipe", "toy:recipe", "worker:recipe"}; strings.Join(refs, " ") != strings.Join(want, " ") {
			t.Errorf("build-push's default build wrote %v, want %v", refs, want)
		}
	})

	t.Run("the contract check", func(t *testing.T) {
		out, err := goCmd(ctx, repo, "run", "./actions/policy-check", "--code", "services", "infra/environments/production")
		if err != nil {
			t.Fatalf("policy-check of the copy with the toy service: %v\n%s", err, out)
		}
		// The same check must see the toy: without its task role in the
		// contract, it names the role that has no entry (IAM009).
		pol := filepath.Join(repo, "policies", "conveyor.hcl")
		full := read(t, pol)
		stripped := regexp.MustCompile(`(?s)role "module[^\n]*toy[^\n]*aws_iam_role\.task" \{.*?\n\}\n`).ReplaceAllString(full, "")
		if stripped == full {
			t.Fatalf("%s: no toy task role to take out", pol)
		}
		write(t, pol, stripped)
		defer write(t, pol, full)
		out, _ = goCmd(ctx, repo, "run", "./actions/policy-check", "--code", "services", "infra/environments/production")
		if !regexp.MustCompile(`module\.(toy|service\["toy"\])\.aws_iam_role\.task`).MatchString(out) || !strings.Contains(out, "IAM009") {
			t.Errorf("policy-check without the toy's contract block does not report its role (IAM009):\n%s", out)
		}
	})

	t.Run("the plan", func(t *testing.T) {
		bin, err := exec.LookPath("terraform")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("terraform not found on PATH")
			}
			t.Skip("SKIPPING: terraform not found on PATH")
		}
		rc := os.Getenv("TF_CLI_CONFIG_FILE")
		if _, err := os.Stat(rc); rc == "" || err != nil {
			if rc, err = terraformrc.Write(t.TempDir()); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatal(err)
				}
				t.Skip("SKIPPING: " + err.Error())
			}
		}
		moto := motoserver.Start(t)
		tf, err := tfexec.NewTerraform(filepath.Join(repo, "infra", "environments", "local"), bin)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"TF_CLI_CONFIG_FILE": rc, "CHECKPOINT_DISABLE": "1", "HOME": t.TempDir(), "PATH": os.Getenv("PATH")}
		for _, kv := range moto.Env() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if err := tf.SetEnv(env); err != nil {
			t.Fatal(err)
		}
		if err := tf.Init(ctx); err != nil {
			t.Fatalf("terraform init: %v", err)
		}
		planFile := filepath.Join(t.TempDir(), "plan")
		if _, err := tf.Plan(ctx, tfexec.Out(planFile), tfexec.Var("aws_endpoint="+moto.URL), tfexec.Var("name=recipe"),
			tfexec.Var("oidc_url=https://token.actions.githubusercontent.com/recipe")); err != nil {
			t.Fatalf("terraform plan: %v", err)
		}
		plan, err := tf.ShowPlanFile(ctx, planFile)
		if err != nil {
			t.Fatal(err)
		}
		created := map[string]bool{}
		for _, rc := range plan.ResourceChanges {
			if strings.Contains(rc.Address, "toy") && rc.Change.Actions.Create() {
				created[rc.Type] = true
			}
		}
		for _, typ := range []string{"aws_ecs_service", "aws_ecs_task_definition", "aws_iam_role", "aws_ecr_repository"} {
			if !created[typ] {
				t.Errorf("the plan creates no %s for the toy service (created for it: %v)", typ, created)
			}
		}
	})
}

// copyRepository copies the work tree (not .git, nor build caches) into a
// temporary directory, keeping symlinks as symlinks.
func copyRepository(t *testing.T, root string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "conveyor")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || d.Name() == ".terraform") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case strings.HasSuffix(d.Name(), ".tfstate") || d.Name() == ".terraform.lock.hcl":
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy the repository to %s: %v", dst, err)
	}
	return dst
}

func goCmd(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// renameWord replaces the word from with to where it stands alone: dlq in
// module.dlq, "dlq" and var.dlq, but not in dlq_arn or CONVEYOR_DLQ_URL.
func renameWord(s, from, to string) string {
	isWord := func(b byte) bool {
		return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], from) && (i == 0 || !isWord(s[i-1])) && (i+len(from) == len(s) || !isWord(s[i+len(from)])) {
			b.WriteString(to)
			i += len(from)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// cloneHCL adds to to f wherever from is one of several services: a
// top-level block whose label names from (module "dlq", role
// "module.dlq.aws_iam_role.task") is copied renamed, and so is every list
// element and object item that names from in a list or object that names
// other services too.
func cloneHCL(t *testing.T, f tfFile, from, to string) {
	t.Helper()
	src := read(t, f.name)
	type insert struct {
		at   int
		text string
	}
	var ins []insert
	word := regexp.MustCompile(`(^|[^A-Za-z0-9_])` + from + `($|[^A-Za-z0-9_])`)
	for _, b := range f.body.Blocks {
		if len(b.Labels) > 0 && word.MatchString(b.Labels[len(b.Labels)-1]) {
			r := b.Range()
			ins = append(ins, insert{r.End.Byte, "\n\n" + renameWord(src[r.Start.Byte:r.End.Byte], from, to)})
		}
	}
	known := map[string]bool{}
	for _, s := range catalog.Services {
		known[s.Name] = true
	}
	text := func(r hcl.Range) string { return src[r.Start.Byte:r.End.Byte] }
	hclsyntax.VisitAll(f.body, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.TupleConsExpr:
			named, last := map[string]bool{}, -1
			var clones []string
			for _, x := range e.Exprs {
				if s := serviceOf(x, known); s != "" {
					named[s] = true
					if s == from {
						clones = append(clones, renameWord(text(x.Range()), from, to))
					}
				}
				last = x.Range().End.Byte
			}
			if len(named) >= 2 && len(clones) > 0 {
				ins = append(ins, insert{last, ", " + strings.Join(clones, ", ")})
			}
		case *hclsyntax.ObjectConsExpr:
			named := map[string]bool{}
			var clone string
			last := -1
			for _, it := range e.Items {
				k, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr)
				if !ok {
					continue
				}
				s := serviceOf(k.Wrapped, known)
				if s != "" {
					named[s] = true
				}
				r := hcl.RangeBetween(it.KeyExpr.Range(), it.ValueExpr.Range())
				if s == from {
					clone = renameWord(text(r), from, to)
				}
				last = r.End.Byte
			}
			if len(named) >= 2 && clone != "" {
				ins = append(ins, insert{last, "\n" + indentOf(src, last) + clone})
			}
		}
		return nil
	})
	if len(ins) == 0 {
		return
	}
	sort.Slice(ins, func(i, j int) bool { return ins[i].at > ins[j].at })
	for _, in := range ins {
		src = src[:in.at] + in.text + src[in.at:]
	}
	write(t, f.name, src)
}

// indentOf is the indentation of the line holding byte at.
func indentOf(src string, at int) string {
	start := strings.LastIndex(src[:at], "\n") + 1
	line := src[start:]
	return line[:len(line)-len(strings.TrimLeft(line, " \t"))]
}

// An item of a list written on one line starts after one of startSep and
// ends before one of endSep ({0}-dlq is one item; so is dlq in dlq|toy)).
const (
	startSep = " ,|/[('\"`"
	endSep   = " ,|/])'\"`"
)

// extendYAML adds to after from on every line that names every service:
// the item holding from (api,worker,dlq; {0}-dlq; api|worker|dlq) is
// repeated renamed, with the separator before it. A mapping entry keyed by
// a name ending in -from (digest-dlq:) is repeated renamed with its body.
func extendYAML(t *testing.T, path, from, to string) {
	t.Helper()
	lines := strings.Split(read(t, path), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		key := strings.TrimSpace(line)
		if strings.HasSuffix(key, "-"+from+":") {
			body := []string{line}
			indent := len(line) - len(strings.TrimLeft(line, " "))
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" && len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent {
				i++
				body = append(body, lines[i])
			}
			out = append(out, body...)
			for _, b := range body {
				out = append(out, renameWord(b, from, to))
			}
			continue
		}
		all := true
		for _, s := range catalog.Services {
			if !word(s.Name).MatchString(line) {
				all = false
			}
		}
		if all {
			line = extendLine(line, from, to)
		}
		out = append(out, line)
	}
	write(t, path, strings.Join(out, "\n"))
}

// extendLine repeats the last item of line that holds the word from.
func extendLine(line, from, to string) string {
	loc := word(from).FindAllStringIndex(line, -1)
	if len(loc) == 0 {
		return line
	}
	at := loc[len(loc)-1][0]
	if line[at] != from[0] {
		at++
	}
	start := strings.LastIndexAny(line[:at], startSep) + 1
	end := at + len(from)
	for end < len(line) && !strings.ContainsRune(endSep, rune(line[end])) {
		end++
	}
	sepStart := start
	for sepStart > 0 && strings.ContainsRune(" ,|/", rune(line[sepStart-1])) {
		sepStart--
	}
	sep := line[sepStart:start]
	if sep == "" {
		sep = ","
	}
	item := line[start:end]
	return line[:end] + sep + renameWord(item, from, to) + line[end:]
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExtendLineRepeatsTheItemWithItsSeparator(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"services: api,worker,dlq", "services: api,worker,dlq,toy"},
		{"options: [all, api, worker, dlq]", "options: [all, api, worker, dlq, toy]"},
		{`services: ${{ format('{0}-api,{0}-worker,{0}-dlq', env.N) }}`, `services: ${{ format('{0}-api,{0}-worker,{0}-dlq,{0}-toy', env.N) }}`},
		{`all) services="$N-api,$N-worker,$N-dlq" ;;`, `all) services="$N-api,$N-worker,$N-dlq,$N-toy" ;;`},
		{`api|worker|dlq) services="$N-$S" ;;`, `api|worker|dlq|toy) services="$N-$S" ;;`},
		{"# services <name>-api/-worker/-dlq, repositories", "# services <name>-api/-worker/-dlq/-toy, repositories"},
		{"default: api,dlq,worker", "default: api,dlq,toy,worker"},
		{"services=(api worker dlq)", "services=(api worker dlq toy)"},
		{"uses module.data.dlq_url only", "uses module.data.dlq_url only"},
	} {
		if got := extendLine(tc.in, "dlq", "toy"); got != tc.want {
			t.Errorf("extendLine(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
