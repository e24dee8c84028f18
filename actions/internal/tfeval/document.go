package tfeval

import (
	"strconv"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// block is one expanded nested block (static, or one iteration of a
// dynamic block) with the context its content is evaluated in.
type block struct {
	body  *hclsyntax.Body
	ctx   *Ctx
	rng   hcl.Range
	types map[string]hcl.Range
}

// blocks expands the nested blocks of a type, including dynamic ones.
func (s *Scope) blocks(body *hclsyntax.Body, typ string, ctx *Ctx, d int) []block {
	var out []block
	for _, b := range body.Blocks {
		switch {
		case b.Type == typ:
			out = append(out, block{body: b.Body, ctx: ctx, rng: b.DefRange()})
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == typ:
			iter := typ
			if it, ok := b.Body.Attributes["iterator"]; ok {
				if kw := hcl.ExprAsKeyword(it.Expr); kw != "" {
					iter = kw
				}
			}
			var content *hclsyntax.Body
			for _, cb := range b.Body.Blocks {
				if cb.Type == "content" {
					content = cb.Body
				}
			}
			fe, ok := b.Body.Attributes["for_each"]
			if content == nil || !ok {
				continue
			}
			coll := s.eval(fe.Expr, ctx, d)
			for _, kv := range pairs(coll) {
				c := ctx.with(iter, objectOf(map[string]Value{"key": kv[0], "value": kv[1]}, kv[1].Range))
				out = append(out, block{body: content, ctx: c, rng: b.DefRange()})
			}
		}
	}
	return out
}

// pairs returns the key/value pairs a for_each iterates; an unknown
// collection gives one iteration of unknowns, so its content is still
// checked (fail closed).
func pairs(coll Value) [][2]Value {
	var out [][2]Value
	switch coll.Kind {
	case KObject:
		for i, k := range coll.Keys {
			out = append(out, [2]Value{str(k, coll.KeyRanges[i]), coll.Obj[k]})
		}
	case KList:
		for i, v := range coll.Elements() {
			key := v
			if v.Kind != KString {
				key = Value{Kind: KNumber, S: itoa(i), Range: v.Range}
			}
			out = append(out, [2]Value{key, v})
		}
	case KNull:
	default:
		out = append(out, [2]Value{unknown("each.key of "+describe(coll), coll.Range), unknown("each.value of "+describe(coll), coll.Range)})
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func (s *Scope) attr(body *hclsyntax.Body, name string, ctx *Ctx, d int) (Value, bool) {
	a, ok := body.Attributes[name]
	if !ok {
		return Value{}, false
	}
	return s.eval(a.Expr, ctx, d), true
}

// keyRange is where an attribute's name is written, for a Field key.
func keyRange(body *hclsyntax.Body, name string) hcl.Range {
	if a, ok := body.Attributes[name]; ok {
		return a.NameRange
	}
	return body.SrcRange
}

// policyDocument builds the JSON tree of an aws_iam_policy_document with
// the provider's merge order: source_policy_documents first, then this
// document's statements, then override_policy_documents; a statement with
// a non-empty Sid replaces an earlier one with the same Sid.
func (s *Scope) policyDocument(b *hclsyntax.Block, ctx *Ctx, r hcl.Range, d int) Value {
	body := b.Body
	var stmts []iampolicy.Node
	var problems []iampolicy.Node
	merge := func(n iampolicy.Node) {
		sid := ""
		if v, _, ok := n.Get("Sid"); ok && v.Kind == iampolicy.String {
			sid = v.Str.Value
		}
		if sid != "" {
			for i := range stmts {
				if v, _, ok := stmts[i].Get("Sid"); ok && v.Str.Value == sid {
					stmts[i] = n
					return
				}
			}
		}
		stmts = append(stmts, n)
	}
	mergeDocs := func(attrs ...string) {
		for _, an := range attrs {
			v, ok := s.attr(body, an, ctx, d)
			if !ok {
				continue
			}
			docs := []Value{v}
			if v.Kind == KList {
				docs = v.Elements()
			}
			for _, dv := range docs {
				for _, p := range documentNodes(s.src, dv) {
					st, _, ok := p.Get("Statement")
					switch {
					case !ok && p.Kind == iampolicy.Unknown:
						problems = append(problems, p)
					case st.Kind == iampolicy.Array:
						for _, it := range st.Items {
							merge(it)
						}
					case st.Kind == iampolicy.Object:
						merge(st)
					case ok:
						problems = append(problems, st)
					}
				}
			}
		}
	}
	mergeDocs("source_policy_documents", "source_json")
	for _, sb := range s.blocks(body, "statement", ctx, d) {
		merge(s.statement(sb, d))
	}
	mergeDocs("override_policy_documents", "override_json")
	doc := iampolicy.Node{Kind: iampolicy.Object, Range: b.DefRange()}
	ver := iampolicy.Node{Kind: iampolicy.String, Str: iampolicy.Str{Value: "2012-10-17", Range: b.DefRange()}, Range: b.DefRange()}
	if v, ok := s.attr(body, "version", ctx, d); ok {
		ver = v.Node()
	}
	doc.Fields = append(doc.Fields, iampolicy.Field{Key: iampolicy.Str{Value: "Version", Range: keyRange(body, "version")}, Value: ver})
	arr := iampolicy.Node{Kind: iampolicy.Array, Items: append(stmts, problems...), Range: b.DefRange()}
	doc.Fields = append(doc.Fields, iampolicy.Field{Key: iampolicy.Str{Value: "Statement", Range: b.DefRange()}, Value: arr})
	return Value{Kind: KDoc, Doc: &doc, Range: r}
}

// statement turns one statement block into its JSON form.
func (s *Scope) statement(sb block, d int) iampolicy.Node {
	n := iampolicy.Node{Kind: iampolicy.Object, Range: sb.rng}
	add := func(key string, kr hcl.Range, v iampolicy.Node) {
		n.Fields = append(n.Fields, iampolicy.Field{Key: iampolicy.Str{Value: key, Range: kr}, Value: v})
	}
	if v, ok := s.attr(sb.body, "sid", sb.ctx, d); ok && !(v.Kind == KString && v.S == "") && v.Kind != KNull {
		add("Sid", keyRange(sb.body, "sid"), v.Node())
	}
	if v, ok := s.attr(sb.body, "effect", sb.ctx, d); ok && v.Kind != KNull {
		add("Effect", keyRange(sb.body, "effect"), v.Node())
	} else {
		add("Effect", sb.rng, iampolicy.Node{Kind: iampolicy.String, Str: iampolicy.Str{Value: "Allow", Range: sb.rng}, Range: sb.rng})
	}
	for _, m := range [][2]string{{"actions", "Action"}, {"not_actions", "NotAction"}, {"resources", "Resource"}, {"not_resources", "NotResource"}} {
		if v, ok := s.attr(sb.body, m[0], sb.ctx, d); ok && v.Kind != KNull {
			add(m[1], keyRange(sb.body, m[0]), v.Node())
		}
	}
	for _, m := range [][2]string{{"principals", "Principal"}, {"not_principals", "NotPrincipal"}} {
		pbs := s.blocks(sb.body, m[0], sb.ctx, d)
		if len(pbs) == 0 {
			continue
		}
		p := iampolicy.Node{Kind: iampolicy.Object, Range: pbs[0].rng}
		star := false
		for _, pb := range pbs {
			t, _ := s.attr(pb.body, "type", pb.ctx, d)
			ids, _ := s.attr(pb.body, "identifiers", pb.ctx, d)
			if t.IsKnownString() && t.S == "*" {
				star = true
				p = iampolicy.Node{Kind: iampolicy.String, Str: iampolicy.Str{Value: "*", Range: t.Range}, Range: t.Range}
				break
			}
			key := iampolicy.Str{Value: t.S, Range: t.Range, Unknown: t.Kind == KUnknown}
			p.Fields = append(p.Fields, iampolicy.Field{Key: key, Value: ids.Node()})
		}
		_ = star
		add(m[1], pbs[0].rng, p)
	}
	if cbs := s.blocks(sb.body, "condition", sb.ctx, d); len(cbs) > 0 {
		cond := iampolicy.Node{Kind: iampolicy.Object, Range: cbs[0].rng}
		for _, cb := range cbs {
			test, _ := s.attr(cb.body, "test", cb.ctx, d)
			variable, _ := s.attr(cb.body, "variable", cb.ctx, d)
			values, _ := s.attr(cb.body, "values", cb.ctx, d)
			op := -1
			for i, f := range cond.Fields {
				if f.Key.Value == test.S {
					op = i
				}
			}
			if op < 0 {
				cond.Fields = append(cond.Fields, iampolicy.Field{Key: test.Str(), Value: iampolicy.Node{Kind: iampolicy.Object, Range: cb.rng}})
				op = len(cond.Fields) - 1
			}
			cond.Fields[op].Value.Fields = append(cond.Fields[op].Value.Fields, iampolicy.Field{Key: variable.Str(), Value: values.Node()})
		}
		add("Condition", cbs[0].rng, cond)
	}
	return n
}

// documentNodes reads a policy value of any shape: a jsonencode() or
// policy-document tree, JSON text in a string, heredoc or file, or both
// branches of a conditional.
func documentNodes(src *Sources, v Value) []iampolicy.Node {
	switch v.Kind {
	case KDoc:
		return []iampolicy.Node{*v.Doc}
	case KList:
		if v.Alt {
			var out []iampolicy.Node
			for _, a := range v.List {
				out = append(out, documentNodes(src, a)...)
			}
			return out
		}
	case KObject:
		return []iampolicy.Node{v.Node()}
	case KString:
		n, err := iampolicy.ParseJSON([]byte(v.S), v.Range.Filename, v.loc)
		if err != nil {
			what := "the policy " + src.text(v.Range) + " is not valid JSON: " + jsonReason(err)
			if len(v.Syms) > 0 {
				var unk []string
				for _, s := range v.Syms {
					unk = append(unk, strings.TrimPrefix(s, "?"))
				}
				what = "the policy " + src.text(v.Range) + " builds its JSON from values that could not be resolved (" + strings.Join(unk, ", ") + ")"
			}
			rng := v.Range
			if pe, ok := err.(*iampolicy.Error); ok {
				rng = pe.Range
			}
			return []iampolicy.Node{{Kind: iampolicy.Unknown, Str: iampolicy.Str{Value: what, Range: rng, Unknown: true}, Range: rng}}
		}
		if len(v.Syms) > 0 {
			markSymbols(&n, v.Syms)
		}
		return []iampolicy.Node{n}
	}
	if v.Kind == KUnknown {
		// name the expression as written, not the evaluator's view of it
		return []iampolicy.Node{{Kind: iampolicy.Unknown, Range: v.Range, Str: iampolicy.Str{Unknown: true, Range: v.Range,
			Value: "the policy " + src.text(v.Range) + " could not be computed (" + v.S + ")"}}}
	}
	return []iampolicy.Node{v.Node()}
}

// jsonReason is a JSON error without its file:line:col prefix (the
// finding has the position already).
func jsonReason(err error) string {
	if pe, ok := err.(*iampolicy.Error); ok {
		return pe.Message
	}
	return err.Error()
}

// text is the source of an expression, on one line and shortened, for a
// message that names what the user wrote.
func (s *Sources) text(r hcl.Range) string {
	b, ok := s.files[r.Filename]
	if !ok || r.Start.Byte < 0 || r.End.Byte > len(b) || r.End.Byte <= r.Start.Byte {
		return "value"
	}
	t := strings.Join(strings.Fields(string(b[r.Start.Byte:r.End.Byte])), " ")
	if len(t) > 60 {
		t = t[:57] + "..."
	}
	return "`" + t + "`"
}

// markSymbols records which ${...} references a JSON string holds.
func markSymbols(n *iampolicy.Node, syms []string) {
	if n.Kind == iampolicy.String {
		for _, s := range syms {
			if strings.Contains(n.Str.Value, "${"+s+"}") {
				n.Str.Symbols = append(n.Str.Symbols, s)
			}
		}
	}
	for i := range n.Items {
		markSymbols(&n.Items[i], syms)
	}
	for i := range n.Fields {
		markSymbols(&n.Fields[i].Value, syms)
	}
}
