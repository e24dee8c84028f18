package tfeval

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Scope is one module instance: the root module or a module call.
type Scope struct {
	src    *Sources
	Mod    *Module
	Path   string // "" for root, "module.api." for a child (with trailing dot)
	key    string // the module call key of modules.json: "eks.kms"
	types  map[string]*varType
	inputs map[string]input
	tfvars map[string]Value
	locals map[string]*Value
	busy   map[string]bool
	kids   map[string]*Scope
	depth  int
	parent *Scope
}

// input is a module call argument: evaluated lazily in the caller's scope.
type input struct {
	expr  hclsyntax.Expression
	scope *Scope
	ctx   *Ctx
	val   *Value
}

// Ctx holds names bound inside one resource instance or expression:
// each, count, dynamic-block iterators, for-expression variables and the
// splat item.
type Ctx struct {
	parent *Ctx
	vars   map[string]Value
	anon   *Value
}

func (c *Ctx) with(name string, v Value) *Ctx {
	return &Ctx{parent: c, vars: map[string]Value{name: v}}
}

func (c *Ctx) lookup(name string) (Value, bool) {
	for x := c; x != nil; x = x.parent {
		if v, ok := x.vars[name]; ok {
			return v, true
		}
	}
	return Value{}, false
}

func (c *Ctx) anonItem() (Value, bool) {
	for x := c; x != nil; x = x.parent {
		if x.anon != nil {
			return *x.anon, true
		}
	}
	return Value{}, false
}

const maxModuleDepth = 20

// NewRoot returns the scope of a root module, with tfvars values.
func NewRoot(src *Sources, mod *Module, tfvars map[string]Value) *Scope {
	return &Scope{src: src, Mod: mod, tfvars: tfvars, locals: map[string]*Value{}, busy: map[string]bool{}, kids: map[string]*Scope{}}
}

// Eval evaluates an expression in this scope.
func (s *Scope) Eval(e hcl.Expression, ctx *Ctx) Value {
	se, ok := e.(hclsyntax.Expression)
	if !ok {
		return unknown("a non-native expression", e.Range())
	}
	return s.eval(se, ctx, 0)
}

const maxEvalDepth = 400

func (s *Scope) eval(e hclsyntax.Expression, ctx *Ctx, d int) Value {
	r := e.Range()
	if d > maxEvalDepth {
		return unknown("an expression nested too deeply", r)
	}
	d++
	switch x := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return fromCty(x.Val, r)
	case *hclsyntax.TemplateExpr:
		return s.template(x, ctx, d)
	case *hclsyntax.TemplateWrapExpr:
		return s.eval(x.Wrapped, ctx, d)
	case *hclsyntax.TemplateJoinExpr:
		v := s.eval(x.Tuple, ctx, d)
		var b strings.Builder
		out := Value{Kind: KString, Range: r}
		for _, it := range v.Elements() {
			b.WriteString(it.S)
			out.Syms = append(out.Syms, it.Syms...)
		}
		out.S = b.String()
		return out
	case *hclsyntax.ParenthesesExpr:
		return s.eval(x.Expression, ctx, d)
	case *hclsyntax.ScopeTraversalExpr:
		return s.traversal(x.Traversal, ctx, r, d)
	case *hclsyntax.RelativeTraversalExpr:
		return traverse(s.eval(x.Source, ctx, d), x.Traversal, r)
	case *hclsyntax.IndexExpr:
		coll := s.eval(x.Collection, ctx, d)
		key := s.eval(x.Key, ctx, d)
		return index(coll, key, r)
	case *hclsyntax.SplatExpr:
		src := s.eval(x.Source, ctx, d)
		items := src.Elements()
		if src.Kind != KList && src.Kind != KObject {
			if src.Kind == KNull {
				return list(nil, r)
			}
			items = []Value{src}
		}
		out := list(nil, r)
		for _, it := range items {
			it := it
			c := &Ctx{parent: ctx, anon: &it}
			out.List = append(out.List, s.eval(x.Each, c, d))
		}
		return out
	case *hclsyntax.AnonSymbolExpr:
		if v, ok := ctx.anonItem(); ok {
			return v
		}
		return unknown("a splat item", r)
	case *hclsyntax.TupleConsExpr:
		out := list(nil, r)
		for _, it := range x.Exprs {
			out.List = append(out.List, s.eval(it, ctx, d))
		}
		return out
	case *hclsyntax.ObjectConsExpr:
		out := object(r)
		for _, it := range x.Items {
			kr := it.KeyExpr.Range()
			var k Value
			if ke, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok && !ke.ForceNonLiteral {
				if name := hcl.ExprAsKeyword(ke.Wrapped); name != "" {
					k = str(name, kr)
				}
			}
			if k.Kind == KNull {
				k = s.eval(it.KeyExpr, ctx, d)
			}
			if !k.IsKnownString() && k.Kind != KNumber && k.Kind != KBool {
				// An object key we cannot compute: keep it visibly unknown.
				out.set("?"+k.S, kr, unknown("an object with a computed key", kr))
				continue
			}
			out.set(k.S, kr, s.eval(it.ValueExpr, ctx, d))
		}
		return out
	case *hclsyntax.ObjectConsKeyExpr:
		if name := hcl.ExprAsKeyword(x.Wrapped); name != "" && !x.ForceNonLiteral {
			return str(name, r)
		}
		return s.eval(x.Wrapped, ctx, d)
	case *hclsyntax.ConditionalExpr:
		c := s.eval(x.Condition, ctx, d)
		if b, ok := c.Bool(); ok {
			if c.Default {
				// The condition is a root variable's default; a caller can
				// flip it, so a choice between two policy documents is
				// checked on both.
				t, f := s.eval(x.TrueResult, ctx, d), s.eval(x.FalseResult, ctx, d)
				if t.Kind == KDoc && f.Kind == KDoc {
					return Value{Kind: KList, Alt: true, Range: r, List: []Value{t, f}}
				}
				if b {
					return t
				}
				return f
			}
			if b {
				return s.eval(x.TrueResult, ctx, d)
			}
			return s.eval(x.FalseResult, ctx, d)
		}
		// Unknown condition: both branches, so each is checked.
		return Value{Kind: KList, Alt: true, Range: r, List: []Value{s.eval(x.TrueResult, ctx, d), s.eval(x.FalseResult, ctx, d)}}
	case *hclsyntax.BinaryOpExpr:
		lhs, rhs := s.eval(x.LHS, ctx, d), s.eval(x.RHS, ctx, d)
		out := binary(x.Op, lhs, rhs, r)
		out.Default = lhs.Default || rhs.Default
		return out
	case *hclsyntax.UnaryOpExpr:
		v := s.eval(x.Val, ctx, d)
		switch x.Op {
		case hclsyntax.OpLogicalNot:
			if b, ok := v.Bool(); ok {
				out := boolean(!b, r)
				out.Default = v.Default
				return out
			}
		case hclsyntax.OpNegate:
			if f, ok := v.Number(); ok {
				return number(-f, r)
			}
		}
		return unknown("an operation on an unknown value", r)
	case *hclsyntax.ForExpr:
		return s.forExpr(x, ctx, d)
	case *hclsyntax.FunctionCallExpr:
		return s.call(x, ctx, d)
	}
	return unknown(fmt.Sprintf("an unsupported expression (%T)", e), r)
}

func fromCty(v cty.Value, r hcl.Range) Value {
	if v.IsNull() || !v.IsKnown() {
		return Value{Kind: KNull, Range: r}
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return str(v.AsString(), r)
	case t == cty.Number:
		bf := v.AsBigFloat()
		f, _ := bf.Float64()
		if bf.IsInt() {
			i, _ := bf.Int(new(big.Int))
			return Value{Kind: KNumber, S: i.String(), Range: r}
		}
		return number(f, r)
	case t == cty.Bool:
		return boolean(v.True(), r)
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := list(nil, r)
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out.List = append(out.List, fromCty(ev, r))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := object(r)
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out.set(k.AsString(), r, fromCty(ev, r))
		}
		return out
	}
	return unknown("a value of type "+t.FriendlyName(), r)
}

// template concatenates parts; literal parts keep an offset map so JSON
// inside a string or heredoc can be located in the file.
func (s *Scope) template(x *hclsyntax.TemplateExpr, ctx *Ctx, d int) Value {
	r := x.SrcRange
	if len(x.Parts) == 1 {
		if lit, ok := x.Parts[0].(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String {
			v := str(lit.Val.AsString(), r)
			v.loc = s.src.literalLocator(r, lit.SrcRange, v.S)
			return v
		}
		if _, ok := x.Parts[0].(*hclsyntax.LiteralValueExpr); !ok {
			// "${x}" alone is handled as TemplateWrapExpr; other single parts
			// are interpolations that stringify.
		}
	}
	if len(x.Parts) == 0 {
		return str("", r)
	}
	var b strings.Builder
	out := Value{Kind: KString, Range: r}
	var segs []segment
	for _, p := range x.Parts {
		v := s.eval(p, ctx, d)
		start := b.Len()
		switch {
		case v.Kind == KString || v.Kind == KNumber || v.Kind == KBool:
			b.WriteString(v.S)
			out.Syms = append(out.Syms, v.Syms...)
		case v.Kind == KNull:
		default:
			sym := "?" + describe(v)
			b.WriteString("${" + sym + "}")
			out.Syms = append(out.Syms, sym)
		}
		if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok {
			segs = append(segs, segment{off: start, text: b.String()[start:], raw: lit.SrcRange, literal: true})
		} else {
			segs = append(segs, segment{off: start, text: b.String()[start:], raw: p.Range()})
		}
	}
	out.S = b.String()
	out.loc = s.src.segmentsLocator(segs)
	return out
}

func describe(v Value) string {
	if v.Kind == KUnknown {
		return v.S
	}
	return "a " + kindName(v.Kind)
}

func kindName(k Kind) string {
	return [...]string{"null", "string", "number", "bool", "list", "object", "unknown value", "policy document"}[k]
}

func (s *Scope) forExpr(x *hclsyntax.ForExpr, ctx *Ctx, d int) Value {
	r := x.SrcRange
	coll := s.eval(x.CollExpr, ctx, d)
	if coll.Kind != KList && coll.Kind != KObject {
		if coll.Kind == KNull {
			return list(nil, r)
		}
		return unknown("a for expression over "+describe(coll), r)
	}
	var keys []Value
	var vals []Value
	if coll.Kind == KObject {
		for i, k := range coll.Keys {
			keys = append(keys, str(k, coll.KeyRanges[i]))
			vals = append(vals, coll.Obj[k])
		}
	} else {
		for i, v := range coll.Elements() {
			keys = append(keys, Value{Kind: KNumber, S: strconv.Itoa(i), Range: v.Range})
			vals = append(vals, v)
		}
	}
	outList := list(nil, r)
	outObj := object(r)
	for i := range vals {
		c := &Ctx{parent: ctx, vars: map[string]Value{x.ValVar: vals[i]}}
		if x.KeyVar != "" {
			c.vars[x.KeyVar] = keys[i]
		}
		if x.CondExpr != nil {
			cond := s.eval(x.CondExpr, c, d)
			if b, ok := cond.Bool(); ok && !b {
				continue
			}
			// unknown condition: keep the element (fail closed)
		}
		if x.KeyExpr == nil {
			outList.List = append(outList.List, s.eval(x.ValExpr, c, d))
			continue
		}
		k := s.eval(x.KeyExpr, c, d)
		v := s.eval(x.ValExpr, c, d)
		if x.Group {
			prev := outObj.Obj[k.S]
			if prev.Kind != KList {
				prev = list(nil, v.Range)
			}
			prev.List = append(prev.List, v)
			outObj.set(k.S, k.Range, prev)
		} else {
			outObj.set(k.S, k.Range, v)
		}
	}
	if x.KeyExpr == nil {
		return outList
	}
	return outObj
}

func binary(op *hclsyntax.Operation, a, b Value, r hcl.Range) Value {
	switch op {
	case hclsyntax.OpEqual, hclsyntax.OpNotEqual:
		if !scalarKnown(a) || !scalarKnown(b) {
			return unknown("a comparison with an unknown value", r)
		}
		eq := a.S == b.S && (a.Kind == b.Kind || (a.Kind != KNull && b.Kind != KNull))
		if a.Kind == KNull || b.Kind == KNull {
			eq = a.Kind == b.Kind
		}
		return boolean(eq == (op == hclsyntax.OpEqual), r)
	case hclsyntax.OpLogicalAnd, hclsyntax.OpLogicalOr:
		x, okx := a.Bool()
		y, oky := b.Bool()
		if op == hclsyntax.OpLogicalAnd && ((okx && !x) || (oky && !y)) {
			return boolean(false, r)
		}
		if op == hclsyntax.OpLogicalOr && ((okx && x) || (oky && y)) {
			return boolean(true, r)
		}
		if okx && oky {
			if op == hclsyntax.OpLogicalAnd {
				return boolean(x && y, r)
			}
			return boolean(x || y, r)
		}
		return unknown("a boolean of unknown values", r)
	}
	x, okx := a.Number()
	y, oky := b.Number()
	if !okx || !oky {
		return unknown("arithmetic on unknown values", r)
	}
	switch op {
	case hclsyntax.OpAdd:
		return number(x+y, r)
	case hclsyntax.OpSubtract:
		return number(x-y, r)
	case hclsyntax.OpMultiply:
		return number(x*y, r)
	case hclsyntax.OpDivide:
		if y == 0 {
			return unknown("a division by zero", r)
		}
		return number(x/y, r)
	case hclsyntax.OpModulo:
		if y == 0 {
			return unknown("a modulo by zero", r)
		}
		return number(float64(int64(x)%int64(y)), r)
	case hclsyntax.OpGreaterThan:
		return boolean(x > y, r)
	case hclsyntax.OpGreaterThanOrEqual:
		return boolean(x >= y, r)
	case hclsyntax.OpLessThan:
		return boolean(x < y, r)
	case hclsyntax.OpLessThanOrEqual:
		return boolean(x <= y, r)
	}
	return unknown("an unsupported operator", r)
}

func scalarKnown(v Value) bool {
	switch v.Kind {
	case KNull, KNumber, KBool:
		return true
	case KString:
		return len(v.Syms) == 0
	}
	return false
}

// index looks up key in a collection; symbols grow an index suffix.
func index(coll, key Value, r hcl.Range) Value {
	switch coll.Kind {
	case KList:
		if coll.Alt {
			out := Value{Kind: KList, Alt: true, Range: r}
			for _, a := range coll.List {
				out.List = append(out.List, index(a, key, r))
			}
			return out
		}
		if f, ok := key.Number(); ok {
			i := int(f)
			if i >= 0 && i < len(coll.List) {
				return coll.List[i]
			}
			return unknown(fmt.Sprintf("index %d out of range", i), r)
		}
	case KObject:
		if key.IsKnownString() || key.Kind == KNumber {
			if v, ok := coll.Obj[key.S]; ok {
				return v
			}
			return unknown(fmt.Sprintf("a missing key %q", key.S), r)
		}
	case KString:
		if sym, ok := coll.PureSymbol(); ok {
			if key.IsKnownString() {
				return symbol(sym+"["+strconv.Quote(key.S)+"]", r)
			}
			if key.Kind == KNumber {
				return symbol(sym+"["+key.S+"]", r)
			}
			return symbol(sym+"[?]", r)
		}
	case KUnknown:
		return unknown(coll.S, r)
	}
	return unknown("an index into "+describe(coll), r)
}

// traverse applies attribute and index steps to a value.
func traverse(v Value, steps hcl.Traversal, r hcl.Range) Value {
	for _, st := range steps {
		switch t := st.(type) {
		case hcl.TraverseAttr:
			switch {
			case v.Kind == KObject:
				if x, ok := v.Obj[t.Name]; ok {
					v = x
				} else {
					return unknown(fmt.Sprintf("a missing attribute %q", t.Name), r)
				}
			case v.Kind == KList && v.Alt:
				out := Value{Kind: KList, Alt: true, Range: r}
				for _, a := range v.List {
					out.List = append(out.List, traverse(a, hcl.Traversal{t}, r))
				}
				v = out
			default:
				if sym, ok := v.PureSymbol(); ok {
					v = symbol(sym+"."+t.Name, r)
				} else if v.Kind == KUnknown {
					v = unknown(v.S+"."+t.Name, r)
				} else {
					return unknown(fmt.Sprintf("attribute %q of %s", t.Name, describe(v)), r)
				}
			}
		case hcl.TraverseIndex:
			v = index(v, fromCty(t.Key, r), r)
		case hcl.TraverseSplat:
			return unknown("a legacy splat", r)
		}
	}
	if v.Range.Filename == "" {
		v.Range = r
	}
	return v
}

func (s *Scope) traversal(t hcl.Traversal, ctx *Ctx, r hcl.Range, d int) Value {
	root := t.RootName()
	if v, ok := ctx.lookup(root); ok {
		return traverse(v, t[1:], r)
	}
	rest := t[1:]
	attr := func(i int) (string, bool) {
		if i < len(rest) {
			if a, ok := rest[i].(hcl.TraverseAttr); ok {
				return a.Name, true
			}
		}
		return "", false
	}
	switch root {
	case "var":
		name, ok := attr(0)
		if !ok {
			return unknown("var", r)
		}
		v := s.variable(name, r, d)
		def := v.Default
		v = traverse(v, rest[1:], r)
		v.Default = v.Default || def
		return v
	case "local":
		name, ok := attr(0)
		if !ok {
			return unknown("local", r)
		}
		return traverse(s.local(name, r, d), rest[1:], r)
	case "path":
		name, _ := attr(0)
		switch name {
		case "module":
			return str(s.Mod.Dir, r)
		case "root":
			return str(".", r)
		case "cwd":
			// terraform runs in the root module's directory
			if abs, err := filepath.Abs(s.rootDir()); err == nil {
				return str(abs, r)
			}
			return str(".", r)
		}
		return unknown("path."+name, r)
	case "terraform":
		return unknown("terraform."+func() string { n, _ := attr(0); return n }(), r)
	case "module":
		return s.moduleRef(rest, r, d)
	case "data":
		typ, ok1 := attr(0)
		name, ok2 := attr(1)
		if !ok1 || !ok2 {
			return unknown("data", r)
		}
		return s.resourceRef("data", typ, name, rest[2:], r, d)
	case "count", "each", "self":
		return unknown(root+"."+func() string { n, _ := attr(0); return n }(), r)
	}
	name, ok := attr(0)
	if !ok {
		return unknown(root, r)
	}
	return s.resourceRef("resource", root, name, rest[1:], r, d)
}

// variable resolves var.name: a module input, a tfvars value, the default,
// or unknown.
func (s *Scope) variable(name string, r hcl.Range, d int) Value {
	if in, ok := s.inputs[name]; ok {
		if in.val == nil {
			v := unknown("var."+name+" (a cyclic module input)", r)
			in.val = &v
			s.inputs[name] = in
			real := s.typed(name, in.scope.eval(in.expr, in.ctx, d))
			in.val = &real
			s.inputs[name] = in
		}
		return *in.val
	}
	if v, ok := s.tfvars[name]; ok && s.Path == "" {
		return s.typed(name, v)
	}
	if b, ok := s.Mod.Variables[name]; ok {
		if a, ok := b.Body.Attributes["default"]; ok {
			v := s.typed(name, s.eval(a.Expr, nil, d))
			v.Default = s.Path == ""
			return v
		}
	}
	// Unknown: the symbol carries a '?' so every string built from it is
	// visibly unresolved.
	return Value{Kind: KUnknown, S: s.Path + "var." + name, Range: r}
}

// typed converts a variable's value to its declared type.
func (s *Scope) typed(name string, v Value) Value {
	b, ok := s.Mod.Variables[name]
	if !ok {
		return v
	}
	t := s.variableType(name, b)
	if t == nil {
		return v
	}
	return conform(v, t.ty, t.defs, v.Range)
}

func (s *Scope) local(name string, r hcl.Range, d int) Value {
	if v, ok := s.locals[name]; ok {
		return *v
	}
	a, ok := s.Mod.Locals[name]
	if !ok || s.busy["local."+name] {
		return unknown(s.Path+"local."+name, r)
	}
	s.busy["local."+name] = true
	v := s.eval(a.Expr, nil, d)
	delete(s.busy, "local."+name)
	s.locals[name] = &v
	return v
}

// Child returns the scope of a module call instance (key "" or "[0]" or
// `["api"]`), creating it on first use.
func (s *Scope) Child(name, key string, ctx *Ctx) *Scope {
	id := name + key
	if c, ok := s.kids[id]; ok {
		return c
	}
	b, ok := s.Mod.Calls[name]
	if !ok || s.depth >= maxModuleDepth {
		return nil
	}
	srcAttr, ok := b.Body.Attributes["source"]
	if !ok {
		return nil
	}
	sv := s.eval(srcAttr.Expr, nil, 0)
	callKey := name
	if s.key != "" {
		callKey = s.key + "." + name
	}
	addr := s.Path + "module." + name
	var dir string
	switch {
	case !sv.IsKnownString():
		s.src.problem(srcAttr.Expr.Range(), addr, "%s: the module source is not a literal string, so the module cannot be read", addr)
		s.kids[id] = nil
		return nil
	case strings.HasPrefix(sv.S, "./") || strings.HasPrefix(sv.S, "../"):
		dir = filepath.Clean(filepath.Join(s.Mod.Dir, sv.S))
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			s.src.problem(srcAttr.Expr.Range(), addr, "%s: source %q is not a directory (%s), so the IAM it creates or receives cannot be checked", addr, sv.S, dir)
			s.kids[id] = nil
			return nil
		}
	default:
		inst, ok := s.src.installed[callKey]
		if !ok {
			s.src.problem(b.DefRange(), addr, "%s comes from %q, which is not installed here, so the IAM it creates or receives is not checked; run `terraform init` in the root module or pass --modules-dir", addr, sv.S)
			s.kids[id] = nil
			return nil
		}
		dir = filepath.Clean(inst)
	}
	for a := s; a != nil; a = a.parent {
		if filepath.Clean(a.Mod.Dir) == dir {
			// A module that calls itself would never end.
			s.kids[id] = nil
			return nil
		}
	}
	mod, err := s.src.LoadModule(dir)
	if err != nil {
		s.src.problem(srcAttr.Expr.Range(), addr, "%s: module source %q cannot be read: %v", addr, sv.S, err)
		s.kids[id] = nil
		return nil
	}
	c := &Scope{src: s.src, Mod: mod, key: callKey, Path: s.Path + "module." + id + ".", inputs: map[string]input{},
		locals: map[string]*Value{}, busy: map[string]bool{}, kids: map[string]*Scope{}, depth: s.depth + 1, parent: s}
	for an, a := range b.Body.Attributes {
		switch an {
		case "source", "version", "count", "for_each", "providers", "depends_on":
			continue
		}
		c.inputs[an] = input{expr: a.Expr, scope: s, ctx: ctx}
	}
	s.kids[id] = c
	return c
}

func (s *Scope) moduleRef(rest hcl.Traversal, r hcl.Range, d int) Value {
	if len(rest) == 0 {
		return unknown("module", r)
	}
	a, ok := rest[0].(hcl.TraverseAttr)
	if !ok {
		return unknown("module", r)
	}
	name := a.Name
	rest = rest[1:]
	key := ""
	var ctx *Ctx
	if b, ok := s.Mod.Calls[name]; ok && (b.Body.Attributes["count"] != nil || b.Body.Attributes["for_each"] != nil) {
		if len(rest) == 0 {
			return unknown("module."+name, r)
		}
		ix, ok := rest[0].(hcl.TraverseIndex)
		if !ok {
			return unknown("module."+name+" without an instance key", r)
		}
		kv := fromCty(ix.Key, r)
		key, ctx = instanceKey(kv, s, b)
		rest = rest[1:]
	}
	c := s.Child(name, key, ctx)
	if c == nil {
		return unknown(s.Path+"module."+name+key, r)
	}
	if len(rest) == 0 {
		return unknown(c.Path+"(the whole module)", r)
	}
	out, ok := rest[0].(hcl.TraverseAttr)
	if !ok {
		return unknown(c.Path, r)
	}
	if ob, ok := c.Mod.Outputs[out.Name]; ok {
		if va, ok := ob.Body.Attributes["value"]; ok {
			if c.busy["output."+out.Name] {
				return unknown(c.Path+"output."+out.Name, r)
			}
			c.busy["output."+out.Name] = true
			v := c.eval(va.Expr, nil, d)
			delete(c.busy, "output."+out.Name)
			// A finding about this value belongs at the reference in the
			// caller's file, not in the module's output block.
			return rerange(traverse(v, rest[1:], r), c.Mod.Dir, r)
		}
	}
	// Not an output: the contract may name a resource inside the module,
	// e.g. module.api.aws_cloudwatch_log_group.this.arn.
	if len(rest) >= 2 {
		if n, ok := rest[1].(hcl.TraverseAttr); ok {
			if out.Name == "data" && len(rest) >= 3 {
				if n2, ok := rest[2].(hcl.TraverseAttr); ok {
					return c.resourceRef("data", n.Name, n2.Name, rest[3:], r, d)
				}
			}
			return c.resourceRef("resource", out.Name, n.Name, rest[2:], r, d)
		}
	}
	return unknown(c.Path+out.Name, r)
}

// instanceKey formats an instance key and builds the each/count context.
func instanceKey(kv Value, s *Scope, b *hclsyntax.Block) (string, *Ctx) {
	if b.Body.Attributes["count"] != nil {
		return "[" + kv.S + "]", (&Ctx{}).with("count", objectOf(map[string]Value{"index": kv}, kv.Range))
	}
	key := "[" + strconv.Quote(kv.S) + "]"
	ev := unknown("each.value", kv.Range)
	if fe := b.Body.Attributes["for_each"]; fe != nil {
		coll := s.eval(fe.Expr, nil, 0)
		if coll.Kind == KObject {
			if v, ok := coll.Obj[kv.S]; ok {
				ev = v
			}
		} else {
			for _, it := range coll.Elements() {
				if it.S == kv.S {
					ev = it
				}
			}
		}
	}
	return key, (&Ctx{}).with("each", objectOf(map[string]Value{"key": kv, "value": ev}, kv.Range))
}

func objectOf(m map[string]Value, r hcl.Range) Value {
	o := object(r)
	for _, k := range []string{"index", "key", "value"} {
		if v, ok := m[k]; ok {
			o.set(k, r, v)
		}
	}
	return o
}

// resourceRef resolves TYPE.NAME[key].attr: a configured argument is
// evaluated; anything else (arn, id) stays a symbol naming the resource.
func (s *Scope) resourceRef(mode, typ, name string, rest hcl.Traversal, r hcl.Range, d int) Value {
	addr := typ + "." + name
	if mode == "data" {
		addr = "data." + addr
	}
	var b *hclsyntax.Block
	if mode == "data" {
		b = s.Mod.Data[typ+"."+name]
	} else {
		b = s.Mod.Resources[typ+"."+name]
	}
	key := ""
	var ctx *Ctx
	if b != nil && (b.Body.Attributes["count"] != nil || b.Body.Attributes["for_each"] != nil) && len(rest) > 0 {
		if ix, ok := rest[0].(hcl.TraverseIndex); ok {
			key, ctx = instanceKey(fromCty(ix.Key, r), s, b)
			rest = rest[1:]
		}
	}
	if b != nil && key == "" && (len(rest) == 0 || !isIndex(rest[0])) {
		// The whole resource with count/for_each, e.g. in a for expression:
		// each instance is a symbol naming it.
		// A policy document instance is its evaluated json, so that
		// data.aws_iam_policy_document.x[*].json and values(...)[*].json
		// read every document.
		inst := func(k Value, idx hcl.Traverser) Value {
			if mode == "data" && typ == "aws_iam_policy_document" {
				o := object(r)
				doc := s.resourceRef(mode, typ, name, hcl.Traversal{idx, hcl.TraverseAttr{Name: "json"}}, r, d)
				o.set("json", r, doc)
				o.set("minified_json", r, doc)
				return o
			}
			if k.Kind == KNumber {
				return symbol(fmt.Sprintf("%s%s[%s]", s.Path, addr, k.S), r)
			}
			return symbol(fmt.Sprintf("%s%s[%q]", s.Path, addr, k.S), r)
		}
		if b.Body.Attributes["for_each"] != nil {
			coll := object(r)
			for _, kv := range pairs(s.eval(b.Body.Attributes["for_each"].Expr, nil, d)) {
				if kv[0].IsKnownString() || kv[0].Kind == KNumber {
					coll.set(kv[0].S, kv[0].Range, inst(str(kv[0].S, r), hcl.TraverseIndex{Key: cty.StringVal(kv[0].S)}))
				} else {
					return unknown(s.Path+addr+" (for_each over unknown keys)", r)
				}
			}
			return traverse(coll, rest, r)
		}
		if ca := b.Body.Attributes["count"]; ca != nil {
			cv := s.eval(ca.Expr, nil, d)
			n, ok := cv.Number()
			if cv.Kind == KList && cv.Alt {
				// both branches of a conditional count: the larger, fail closed
				for _, alt := range cv.List {
					if f, ok2 := alt.Number(); ok2 && f >= n {
						n, ok = f, true
					}
				}
			}
			if !ok {
				return unknown(s.Path+addr+" (unknown count)", r)
			}
			coll := list(nil, r)
			for i := 0; i < int(n) && i < 1000; i++ {
				coll.List = append(coll.List, inst(number(float64(i), r), hcl.TraverseIndex{Key: cty.NumberIntVal(int64(i))}))
			}
			return traverse(coll, rest, r)
		}
	}
	if len(rest) == 0 {
		return symbol(s.Path+addr+key, r)
	}
	a, ok := rest[0].(hcl.TraverseAttr)
	if !ok {
		return symbol(s.Path+addr+key+"[*]", r)
	}
	if mode == "data" && typ == "aws_iam_policy_document" && (a.Name == "json" || a.Name == "minified_json") && b != nil {
		if s.busy[addr+key] {
			return unknown(s.Path+addr+key+".json (cyclic)", r)
		}
		s.busy[addr+key] = true
		v := s.policyDocument(b, ctx, r, d)
		delete(s.busy, addr+key)
		return traverse(v, rest[1:], r)
	}
	if mode == "data" && typ == "aws_iam_policy" && a.Name == "policy" && b != nil {
		// An AWS-managed policy read by a data source: use the vendored copy.
		for _, by := range []string{"arn", "name"} {
			v, ok := s.attr(b.Body, by, ctx, d)
			if !ok || v.Kind != KString {
				continue
			}
			arn := v.S
			if by == "name" {
				arn = "arn:aws:iam::aws:policy/" + v.S
			}
			if n, ok := managedPolicy(arn, r); ok {
				return Value{Kind: KDoc, Doc: &n, Range: r}
			}
		}
	}
	if b != nil && !s.busy[addr+key+"."+a.Name] {
		if at, ok := b.Body.Attributes[a.Name]; ok && a.Name != "count" && a.Name != "for_each" {
			s.busy[addr+key+"."+a.Name] = true
			v := s.eval(at.Expr, ctx, d)
			delete(s.busy, addr+key+"."+a.Name)
			// An argument configured as null is computed by the provider
			// (a role's name when name_prefix is set): its value is not
			// known before apply, and it is never null.
			v = computedIfNull(v, symbol(s.Path+addr+key+"."+a.Name, r))
			return traverse(v, rest[1:], r)
		}
	}
	return traverse(symbol(s.Path+addr+key+"."+a.Name, r), rest[1:], r)
}

func isIndex(t hcl.Traverser) bool {
	_, ok := t.(hcl.TraverseIndex)
	return ok
}

// rerange moves the ranges of values written inside a module's directory
// onto the caller's reference r; values that came in from the caller keep
// their own.
func rerange(v Value, dir string, r hcl.Range) Value {
	in := func(rg hcl.Range) bool { return filepath.Dir(rg.Filename) == filepath.Clean(dir) }
	switch v.Kind {
	case KList:
		items := make([]Value, len(v.List))
		for i, it := range v.List {
			items[i] = rerange(it, dir, r)
		}
		v.List = items
	case KObject:
		obj := make(map[string]Value, len(v.Obj))
		for k, it := range v.Obj {
			obj[k] = rerange(it, dir, r)
		}
		v.Obj = obj
	case KDoc:
		return v
	}
	if in(v.Range) || v.Kind == KString || v.Kind == KUnknown {
		if in(v.Range) {
			v.Range = r
			v.loc = nil
		}
	}
	return v
}

// computedIfNull replaces null, in a value or in any branch of a
// conditional, with the symbol of the computed attribute.
func computedIfNull(v, sym Value) Value {
	switch {
	case v.Kind == KNull:
		return sym
	case v.Kind == KList && v.Alt:
		out := v
		out.List = make([]Value, len(v.List))
		for i, a := range v.List {
			out.List[i] = computedIfNull(a, sym)
		}
		return out
	}
	return v
}

func (s *Scope) rootDir() string {
	for s.parent != nil {
		s = s.parent
	}
	return s.Mod.Dir
}
