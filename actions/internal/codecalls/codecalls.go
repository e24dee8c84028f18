// Package codecalls finds, by static analysis with go/packages and
// go/types, the AWS SDK (aws-sdk-go-v2) operations each Go main package can
// reach, and maps them to the IAM actions that authorise them.
//
// Reachability starts at main and init and follows every function and
// method the code refers to; a call through an interface reaches every
// method of that name whose receiver implements the interface. An SDK
// operation is any function or interface method that takes a
// *<service>.<Operation>Input from an aws-sdk-go-v2 service package, so
// direct client calls, calls through narrow interfaces, method values and
// paginators are all found.
package codecalls

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/tools/go/packages"
)

const sdkServicePrefix = "github.com/aws/aws-sdk-go-v2/service/"

// Call is one SDK operation reachable from a main package.
type Call struct {
	Service   string // SDK package name: sqs, dynamodb
	Operation string // SendMessageBatch
	Actions   []string
	Pos       token.Position // where the code names it
}

// Service is one main package's calls.
type Service struct {
	Name  string // directory name under the analysed root: api, worker
	Dir   string
	Calls []Call
}

// Actions returns the distinct IAM actions, sorted.
func (s Service) Actions() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range s.Calls {
		for _, a := range c.Actions {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Analyze loads every package under dir and returns the calls of each main
// package, keyed by its directory's name.
func Analyze(dir string) (map[string]Service, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
			packages.NeedTypesInfo | packages.NeedImports,
		Dir:   abs,
		Tests: false,
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		return nil, fmt.Errorf("loading Go packages under %s: %w", dir, err)
	}
	var errs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e.Error())
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("Go packages under %s do not type-check (fix them first): %s", dir, strings.Join(errs[:min(5, len(errs))], "; "))
	}
	a := newAnalysis(pkgs)
	out := map[string]Service{}
	for _, p := range pkgs {
		if p.Name != "main" || len(p.GoFiles) == 0 {
			continue
		}
		pdir := filepath.Dir(p.GoFiles[0])
		name := filepath.Base(pdir)
		out[name] = Service{Name: name, Dir: pdir, Calls: a.reach(p)}
	}
	return out, nil
}

type fn struct {
	decl *ast.FuncDecl
	pkg  *packages.Package
}

type analysis struct {
	pkgs    []*packages.Package
	funcs   map[*types.Func]fn
	methods map[string][]*types.Func // by name, concrete methods declared in loaded packages
}

func newAnalysis(pkgs []*packages.Package) *analysis {
	a := &analysis{pkgs: pkgs, funcs: map[*types.Func]fn{}, methods: map[string][]*types.Func{}}
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				obj, ok := p.TypesInfo.Defs[fd.Name].(*types.Func)
				if !ok {
					continue
				}
				a.funcs[obj] = fn{decl: fd, pkg: p}
				if fd.Recv != nil {
					a.methods[obj.Name()] = append(a.methods[obj.Name()], obj)
				}
			}
		}
	}
	return a
}

// reach walks everything reachable from a main package.
func (a *analysis) reach(main *packages.Package) []Call {
	var calls []Call
	seenCall := map[string]bool{}
	visited := map[*types.Func]bool{}
	pkgDone := map[*packages.Package]bool{}
	var queue []ast.Node
	var queuePkg []*packages.Package
	push := func(n ast.Node, p *packages.Package) {
		queue = append(queue, n)
		queuePkg = append(queuePkg, p)
	}
	enterPkg := func(p *packages.Package) {
		if pkgDone[p] {
			return
		}
		pkgDone[p] = true
		for _, f := range p.Syntax {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.GenDecl:
					if d.Tok == token.VAR {
						push(d, p) // package-level initialisers run
					}
				case *ast.FuncDecl:
					if d.Recv == nil && d.Name.Name == "init" && d.Body != nil {
						push(d.Body, p)
					}
				}
			}
		}
	}
	visit := func(f *types.Func) {
		if visited[f] {
			return
		}
		visited[f] = true
		if d, ok := a.funcs[f]; ok {
			enterPkg(d.pkg)
			push(d.decl.Body, d.pkg)
		}
	}
	enterPkg(main)
	if m, ok := main.Types.Scope().Lookup("main").(*types.Func); ok {
		visit(m)
	}
	for len(queue) > 0 {
		n, p := queue[0], queuePkg[0]
		queue, queuePkg = queue[1:], queuePkg[1:]
		ast.Inspect(n, func(x ast.Node) bool {
			id, ok := x.(*ast.Ident)
			if !ok {
				return true
			}
			f, ok := p.TypesInfo.Uses[id].(*types.Func)
			if !ok {
				return true
			}
			f = f.Origin()
			if c, ok := sdkOperation(f); ok {
				c.Pos = p.Fset.Position(id.Pos())
				k := c.Pos.String() + c.Operation
				if !seenCall[k] {
					seenCall[k] = true
					calls = append(calls, c)
				}
			}
			sig := f.Type().(*types.Signature)
			if recv := sig.Recv(); recv != nil && types.IsInterface(recv.Type()) {
				iface, _ := recv.Type().Underlying().(*types.Interface)
				for _, m := range a.methods[f.Name()] {
					mr := m.Type().(*types.Signature).Recv()
					if mr == nil || iface == nil {
						continue
					}
					t := mr.Type()
					if ptr, ok := t.(*types.Pointer); ok {
						t = ptr.Elem()
					}
					if types.Implements(t, iface) || types.Implements(types.NewPointer(t), iface) {
						visit(m)
					}
				}
				return true
			}
			visit(f)
			return true
		})
	}
	sort.Slice(calls, func(i, j int) bool {
		if calls[i].Pos.Filename != calls[j].Pos.Filename {
			return calls[i].Pos.Filename < calls[j].Pos.Filename
		}
		return calls[i].Pos.Offset < calls[j].Pos.Offset
	})
	return calls
}

// sdkOperation reports whether f is an SDK operation: a function or method
// of an aws-sdk-go-v2 service package, or an interface method anywhere,
// that takes a *<service>.<Op>Input.
func sdkOperation(f *types.Func) (Call, bool) {
	sig, ok := f.Type().(*types.Signature)
	if !ok {
		return Call{}, false
	}
	inSDK := f.Pkg() != nil && strings.HasPrefix(f.Pkg().Path(), sdkServicePrefix)
	abstract := sig.Recv() != nil && types.IsInterface(sig.Recv().Type())
	if !inSDK && !abstract {
		return Call{}, false
	}
	for i := 0; i < sig.Params().Len(); i++ {
		ptr, ok := sig.Params().At(i).Type().(*types.Pointer)
		if !ok {
			continue
		}
		named, ok := ptr.Elem().(*types.Named)
		if !ok || named.Obj().Pkg() == nil {
			continue
		}
		path := named.Obj().Pkg().Path()
		if !strings.HasPrefix(path, sdkServicePrefix) || !strings.HasSuffix(named.Obj().Name(), "Input") {
			continue
		}
		svc := strings.TrimPrefix(path, sdkServicePrefix)
		if i := strings.IndexByte(svc, '/'); i >= 0 {
			continue // a sub-package (types, internal): not an operation input
		}
		op := strings.TrimSuffix(named.Obj().Name(), "Input")
		return Call{Service: svc, Operation: op, Actions: Actions(svc, op)}, true
	}
	return Call{}, false
}
