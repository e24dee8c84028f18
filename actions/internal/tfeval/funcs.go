package tfeval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// call evaluates a function call: try and can on unevaluated arguments,
// then the structural evaluators (one per function, in the table
// structural) that keep ranges, symbols and policy trees, then Terraform's
// own implementation on fully known values (ctyFuncs). Anything else gives
// an unknown value: fail closed, never a guess.
func (s *Scope) call(x *hclsyntax.FunctionCallExpr, ctx *Ctx, d int) Value {
	r := x.Range()
	name := x.Name
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	switch name {
	case "try":
		for _, a := range x.Args {
			v := s.eval(a, ctx, d)
			if v.Kind != KUnknown {
				return v
			}
		}
		return unknown("try() with no resolvable argument", r)
	case "can":
		if len(x.Args) == 1 {
			return boolean(s.eval(x.Args[0], ctx, d).Kind != KUnknown, r)
		}
	}
	args := make([]Value, len(x.Args))
	for i, a := range x.Args {
		args[i] = s.eval(a, ctx, d)
	}
	if x.ExpandFinal && len(args) > 0 {
		last := args[len(args)-1]
		args = append(args[:len(args)-1], last.Elements()...)
	}
	fc := &fnCall{s: s, name: name, args: args, r: r}
	if f, ok := structural[name]; ok {
		if v, ok := f(fc); ok {
			return v
		}
	}
	if v, ok := callCty(name, args, r); ok {
		return v
	}
	if d, ok := derived(name, args, r); ok {
		return d
	}
	return unknown(name+"()", r)
}

// derived gives a function of resource attributes a symbol of its own:
// element(split("/", cluster.arn), 1) is fixed by the cluster, so it is an
// identity, not an unknown. Any unknown argument keeps the result unknown.
func derived(name string, args []Value, r hcl.Range) (Value, bool) {
	var parts []string
	hasSym := false
	var canon func(v Value) (string, bool)
	canon = func(v Value) (string, bool) {
		switch v.Kind {
		case KString:
			if sym, ok := v.PureSymbol(); ok {
				hasSym = true
				return sym, true
			}
			for _, s := range v.Syms {
				if strings.HasPrefix(s, "?") {
					return "", false
				}
			}
			hasSym = hasSym || len(v.Syms) > 0
			return fmt.Sprintf("%q", v.S), true
		case KNumber, KBool:
			return v.S, true
		case KNull:
			return "null", true
		case KList:
			var items []string
			for _, it := range v.Elements() {
				c, ok := canon(it)
				if !ok {
					return "", false
				}
				items = append(items, c)
			}
			return "[" + strings.Join(items, ", ") + "]", true
		}
		return "", false
	}
	for _, a := range args {
		c, ok := canon(a)
		if !ok {
			return Value{}, false
		}
		parts = append(parts, c)
	}
	if !hasSym {
		return Value{}, false
	}
	return symbol(name+"("+strings.Join(parts, ", ")+")", r), true
}

func (v Value) locator() iampolicy.Locator { return v.loc }

func flatten(v Value) []Value {
	var out []Value
	for _, it := range v.Elements() {
		if it.Kind == KList {
			out = append(out, flatten(it)...)
		} else {
			out = append(out, it)
		}
	}
	return out
}

func dedupe(in []Value) []Value {
	seen := map[string]bool{}
	var out []Value
	for _, v := range in {
		k := fmt.Sprint(v.Kind, v.S)
		if v.Kind == KList || v.Kind == KObject || seen[k] {
			if v.Kind == KList || v.Kind == KObject {
				out = append(out, v)
			}
			continue
		}
		seen[k] = true
		out = append(out, v)
	}
	return out
}

// fromNode turns a JSON tree back into a Value (jsondecode).
func fromNode(n iampolicy.Node) Value {
	switch n.Kind {
	case iampolicy.String:
		return Value{Kind: KString, S: n.Str.Value, Syms: n.Str.Symbols, Range: n.Range}
	case iampolicy.Number:
		return Value{Kind: KNumber, S: n.Str.Value, Range: n.Range}
	case iampolicy.Bool:
		return Value{Kind: KBool, S: n.Str.Value, Range: n.Range}
	case iampolicy.Null:
		return Value{Kind: KNull, Range: n.Range}
	case iampolicy.Array:
		out := list(nil, n.Range)
		for _, it := range n.Items {
			out.List = append(out.List, fromNode(it))
		}
		return out
	case iampolicy.Object:
		out := object(n.Range)
		for _, f := range n.Fields {
			out.set(f.Key.Value, f.Key.Range, fromNode(f.Value))
		}
		return out
	}
	return unknown(n.Str.Value, n.Range)
}

// convert is Terraform's type conversion functions: a value of the wrong
// kind is an error (so try() falls back and can() is false), as in
// https://developer.hashicorp.com/terraform/language/functions/tostring.
func convert(name string, v Value, r hcl.Range) Value {
	if v.Kind == KNull || v.Kind == KUnknown {
		return v
	}
	ok := false
	switch name {
	case "tostring":
		ok = v.Kind == KString || v.Kind == KNumber || v.Kind == KBool
		if ok && v.Kind != KString {
			v.Kind = KString
		}
	case "tonumber":
		_, ok = v.Number()
	case "tobool":
		_, ok = v.Bool()
	case "tolist":
		ok = v.Kind == KList
	case "toset":
		if v.Kind == KList && !v.Alt {
			return list(dedupe(v.Elements()), v.Range)
		}
		ok = v.Kind == KList
	case "tomap":
		ok = v.Kind == KObject
	}
	if !ok {
		return unknown(fmt.Sprintf("%s() of %s", name, describe(v)), r)
	}
	return v
}

func replaceInDoc(n iampolicy.Node, old string, with Value) iampolicy.Node {
	switch n.Kind {
	case iampolicy.String:
		if strings.Contains(n.Str.Value, old) {
			n.Str.Value = strings.ReplaceAll(n.Str.Value, old, with.S)
			n.Str.Symbols = append(append([]string(nil), n.Str.Symbols...), with.Syms...)
		}
	case iampolicy.Array:
		items := make([]iampolicy.Node, len(n.Items))
		for i, it := range n.Items {
			items[i] = replaceInDoc(it, old, with)
		}
		n.Items = items
	case iampolicy.Object:
		fields := make([]iampolicy.Field, len(n.Fields))
		for i, f := range n.Fields {
			f.Value = replaceInDoc(f.Value, old, with)
			fields[i] = f
		}
		n.Fields = fields
	}
	return n
}

// fnCall is one function call with evaluated arguments.
type fnCall struct {
	s    *Scope
	name string
	args []Value
	r    hcl.Range
}

// arg is argument i, or null when the call has fewer.
func (c *fnCall) arg(i int) Value {
	if i < len(c.args) {
		return c.args[i]
	}
	return Value{Kind: KNull, Range: c.r}
}

// structural are the functions whose result must keep what the evaluator
// tracks beyond plain values: where each value was written, references to
// resources (symbols), unknowns, and policy documents. Each returns false
// when its arguments are not of a shape it handles, and the call falls
// through to ctyFuncs or an unknown.
var structural map[string]func(*fnCall) (Value, bool)

func init() {
	structural = map[string]func(*fnCall) (Value, bool){
		"jsonencode":   fnJSONEncode,
		"jsondecode":   fnJSONDecode,
		"file":         fnFile,
		"templatefile": fnFile,
		"concat":       fnConcat,
		"setunion":     fnConcat,
		"flatten":      fnFlatten,
		"distinct":     fnDistinct,
		"sensitive":    fnSensitive,
		"nonsensitive": fnSensitive,
		"tolist":       fnConvert,
		"toset":        fnConvert,
		"tomap":        fnConvert,
		"tostring":     fnConvert,
		"tonumber":     fnConvert,
		"tobool":       fnConvert,
		"compact":      fnCompact,
		"merge":        fnMerge,
		"lookup":       fnLookup,
		"element":      fnElement,
		"one":          fnOne,
		"length":       fnLength,
		"keys":         fnKeys,
		"values":       fnValues,
		"contains":     fnContains,
		"zipmap":       fnZipmap,
		"coalesce":     fnCoalesce,
		"coalescelist": fnCoalesceList,
		"join":         fnJoin,
		"format":       fnFormat,
		"replace":      fnReplace,
		"sort":         fnSort,
	}
}

// fnJSONEncode is jsonencode().
func fnJSONEncode(c *fnCall) (Value, bool) {
	if len(c.args) == 1 {
		n := c.args[0].Node()
		return Value{Kind: KDoc, Doc: &n, Range: c.r}, true
	}
	return Value{}, false
}

// fnJSONDecode is jsondecode().
func fnJSONDecode(c *fnCall) (Value, bool) {
	v := c.arg(0)
	if v.Kind == KDoc {
		return v, true
	}
	if v.IsKnownString() {
		n, err := iampolicy.ParseJSON([]byte(v.S), v.Range.Filename, v.locator())
		if err != nil {
			return unknown("jsondecode of invalid JSON: "+err.Error(), c.r), true
		}
		return fromNode(n), true
	}
	return Value{}, false
}

// fnFile is file, templatefile().
func fnFile(c *fnCall) (Value, bool) {
	p := c.arg(0)
	if p.IsKnownString() {
		path := p.S
		if !filepath.IsAbs(path) {
			path = filepath.Join(c.s.Mod.Dir, strings.TrimPrefix(path, c.s.Mod.Dir+"/"))
			if _, err := os.Stat(path); err != nil {
				path = p.S
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return unknown(fmt.Sprintf("%s(%q), which cannot be read", c.name, p.S), c.r), true
		}
		if c.name == "templatefile" && strings.Contains(string(b), "${") {
			return unknown(fmt.Sprintf("templatefile(%q) with interpolations", p.S), c.r), true
		}
		c.s.src.files[path] = b
		v := str(string(b), hcl.Range{Filename: path, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}})
		v.loc = c.s.src.fileLocator(path)
		return v, true
	}
	return Value{}, false
}

// fnConcat is concat, setunion().
func fnConcat(c *fnCall) (Value, bool) {
	out := list(nil, c.r)
	for _, a := range c.args {
		if a.Kind != KList {
			return unknown(c.name+"() of "+describe(a), c.r), true
		}
		out.List = append(out.List, a.Elements()...)
	}
	if c.name == "setunion" {
		out.List = dedupe(out.List)
	}
	return out, true
}

// fnFlatten is flatten().
func fnFlatten(c *fnCall) (Value, bool) {
	return list(flatten(c.arg(0)), c.r), true
}

// fnDistinct is distinct().
func fnDistinct(c *fnCall) (Value, bool) {
	if a := c.arg(0); a.Kind == KList {
		return list(dedupe(a.Elements()), a.Range), true
	}
	return Value{}, false
}

// fnSensitive is sensitive, nonsensitive().
func fnSensitive(c *fnCall) (Value, bool) {
	return c.arg(0), true
}

// fnConvert is tolist, toset, tomap, tostring, tonumber, tobool().
func fnConvert(c *fnCall) (Value, bool) {
	return convert(c.name, c.arg(0), c.r), true
}

// fnCompact is compact().
func fnCompact(c *fnCall) (Value, bool) {
	out := list(nil, c.r)
	for _, it := range c.arg(0).Elements() {
		// compact drops empty strings and nulls
		// (https://developer.hashicorp.com/terraform/language/functions/compact)
		if (it.Kind == KString && it.S == "" && len(it.Syms) == 0) || it.Kind == KNull {
			continue
		}
		out.List = append(out.List, it)
	}
	return out, true
}

// fnMerge is merge().
func fnMerge(c *fnCall) (Value, bool) {
	out := object(c.r)
	for _, a := range c.args {
		if a.Kind == KNull {
			continue
		}
		if a.Kind != KObject {
			return unknown("merge() of "+describe(a), c.r), true
		}
		for i, k := range a.Keys {
			out.set(k, a.KeyRanges[i], a.Obj[k])
		}
	}
	return out, true
}

// fnLookup is lookup().
func fnLookup(c *fnCall) (Value, bool) {
	m := c.arg(0)
	k := c.arg(1)
	if m.Kind == KObject && k.IsKnownString() {
		if v, ok := m.Obj[k.S]; ok {
			return v, true
		}
		if len(c.args) > 2 {
			return c.args[2], true
		}
	}
	return Value{}, false
}

// fnElement is element().
func fnElement(c *fnCall) (Value, bool) {
	l := c.arg(0)
	if n, ok := c.arg(1).Number(); ok && l.Kind == KList && len(l.List) > 0 {
		return l.List[int(n)%len(l.List)], true
	}
	return Value{}, false
}

// fnOne is one().
func fnOne(c *fnCall) (Value, bool) {
	l := c.arg(0)
	if l.Kind == KList && len(l.List) == 1 {
		return l.List[0], true
	}
	if l.Kind == KList && len(l.List) == 0 {
		return Value{Kind: KNull, Range: c.r}, true
	}
	return Value{}, false
}

// fnLength is length().
func fnLength(c *fnCall) (Value, bool) {
	a := c.arg(0)
	switch a.Kind {
	case KList:
		return Value{Kind: KNumber, S: fmt.Sprint(len(a.List)), Range: c.r}, true
	case KObject:
		return Value{Kind: KNumber, S: fmt.Sprint(len(a.Keys)), Range: c.r}, true
	case KString:
		if len(a.Syms) == 0 {
			return Value{Kind: KNumber, S: fmt.Sprint(len([]rune(a.S))), Range: c.r}, true
		}
	}
	return Value{}, false
}

// fnKeys is keys().
func fnKeys(c *fnCall) (Value, bool) {
	if a := c.arg(0); a.Kind == KObject {
		out := list(nil, c.r)
		for i, k := range a.Keys {
			out.List = append(out.List, str(k, a.KeyRanges[i]))
		}
		return out, true
	}
	return Value{}, false
}

// fnValues is values().
func fnValues(c *fnCall) (Value, bool) {
	if a := c.arg(0); a.Kind == KObject {
		return list(a.Elements(), c.r), true
	}
	return Value{}, false
}

// fnContains is contains().
func fnContains(c *fnCall) (Value, bool) {
	l, v := c.arg(0), c.arg(1)
	if l.Kind == KList && scalarKnown(v) {
		for _, it := range l.Elements() {
			if !scalarKnown(it) {
				return unknown("contains() over unknown values", c.r), true
			}
			if it.S == v.S {
				return boolean(true, c.r), true
			}
		}
		return boolean(false, c.r), true
	}
	return Value{}, false
}

// fnZipmap is zipmap().
func fnZipmap(c *fnCall) (Value, bool) {
	k, v := c.arg(0), c.arg(1)
	if k.Kind == KList && v.Kind == KList && len(k.List) == len(v.List) {
		out := object(c.r)
		for i := range k.List {
			out.set(k.List[i].S, k.List[i].Range, v.List[i])
		}
		return out, true
	}
	return Value{}, false
}

// fnCoalesce is coalesce().
func fnCoalesce(c *fnCall) (Value, bool) {
	for _, a := range c.args {
		if a.Kind == KUnknown {
			return unknown("coalesce() with an unknown argument", c.r), true
		}
		if a.Kind != KNull && !(a.Kind == KString && a.S == "") {
			return a, true
		}
	}
	return Value{}, false
}

// fnCoalesceList is coalescelist().
func fnCoalesceList(c *fnCall) (Value, bool) {
	for _, a := range c.args {
		if a.Kind == KList && len(a.List) > 0 {
			return a, true
		}
	}
	return Value{}, false
}

// fnJoin is join().
func fnJoin(c *fnCall) (Value, bool) {
	sep := c.arg(0)
	if sep.IsKnownString() {
		out := Value{Kind: KString, Range: c.r}
		var parts []string
		for _, a := range c.args[1:] {
			for _, it := range a.Elements() {
				parts = append(parts, it.S)
				out.Syms = append(out.Syms, it.Syms...)
				if it.Kind == KUnknown {
					return unknown("join() of an unknown value", c.r), true
				}
			}
		}
		out.S = strings.Join(parts, sep.S)
		return out, true
	}
	return Value{}, false
}

// fnFormat is format().
func fnFormat(c *fnCall) (Value, bool) {
	f := c.arg(0)
	if f.IsKnownString() {
		out := Value{Kind: KString, Range: c.r}
		var b strings.Builder
		ai := 1
		for i := 0; i < len(f.S); i++ {
			ch := f.S[i]
			if ch != '%' || i+1 >= len(f.S) {
				b.WriteByte(ch)
				continue
			}
			i++
			if f.S[i] == '%' {
				b.WriteByte('%')
				continue
			}
			for i < len(f.S) && strings.IndexByte("sdvqft", f.S[i]) < 0 {
				i++
			}
			v := c.arg(ai)
			ai++
			if v.Kind == KUnknown || v.Kind == KList || v.Kind == KObject {
				sym := "?" + describe(v)
				b.WriteString("${" + sym + "}")
				out.Syms = append(out.Syms, sym)
				continue
			}
			b.WriteString(v.S)
			out.Syms = append(out.Syms, v.Syms...)
		}
		out.S = b.String()
		return out, true
	}
	return Value{}, false
}

// fnReplace is replace().
func fnReplace(c *fnCall) (Value, bool) {
	// replace() on a policy document's JSON: placeholders inside its
	// strings (the s3-bucket module's _S3_BUCKET_ARN_) are replaced in
	// the tree, keeping ranges and the symbols the new text brings.
	if d, o, n := c.arg(0), c.arg(1), c.arg(2); d.Kind == KDoc && d.Doc != nil && o.IsKnownString() && o.S != "" &&
		!strings.HasPrefix(o.S, "/") && (n.Kind == KString || n.Kind == KNumber) {
		doc := replaceInDoc(*d.Doc, o.S, n)
		return Value{Kind: KDoc, Doc: &doc, Range: d.Range}, true
	}
	return Value{}, false
}

// fnSort is sort().
func fnSort(c *fnCall) (Value, bool) {
	if a := c.arg(0); a.Kind == KList {
		items := append([]Value(nil), a.Elements()...)
		sort.SliceStable(items, func(i, j int) bool { return items[i].S < items[j].S })
		return list(items, a.Range), true
	}
	return Value{}, false
}
