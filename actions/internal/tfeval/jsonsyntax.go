package tfeval

import (
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// Terraform's JSON syntax (https://developer.hashicorp.com/terraform/language/syntax/json)
// is read into the same native-syntax tree the evaluator walks: every JSON
// string is a template (so "${var.x}" interpolates, as Terraform does), a
// few arguments hold an expression or a keyword instead, and an object
// under a nested-block name is a block. hcl's JSON parser checks the file
// first, so a malformed file fails with hcl's own diagnostic.

// jsonBlockKeys are the nested block types whose content decides IAM or
// the expansion of other blocks; any other object value is an argument.
var jsonBlockKeys = map[string]bool{
	"statement": true, "principals": true, "not_principals": true, "condition": true,
	"inline_policy": true, "content": true, "lifecycle": true, "validation": true,
}

// jsonExprKeys hold a whole expression or keyword in a JSON string, not a
// template: a variable's type and a dynamic block's iterator.
var jsonExprKeys = map[string]bool{"type": true, "iterator": true}

// parseJSONConfig reads one .tf.json file as a native-syntax body.
func (s *Sources) parseJSONConfig(name string, src []byte) (*hclsyntax.Body, error) {
	if _, diags := hcljson.Parse(src, name); diags.HasErrors() {
		return nil, &ParseError{Diags: diags}
	}
	root, err := iampolicy.ParseJSON(src, name, nil)
	if err != nil {
		return nil, err
	}
	s.files[name] = src
	j := jsonConv{file: name}
	body := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: root.Range, EndRange: root.Range}
	for _, f := range root.Fields {
		switch f.Key.Value {
		case "resource", "data":
			for _, typ := range f.Value.Fields {
				for _, nm := range typ.Value.Fields {
					for _, b := range j.bodies(nm.Value) {
						body.Blocks = append(body.Blocks, j.block(f.Key, []iampolicy.Str{typ.Key, nm.Key}, b, ""))
					}
				}
			}
		case "module", "variable", "output":
			for _, nm := range f.Value.Fields {
				for _, b := range j.bodies(nm.Value) {
					body.Blocks = append(body.Blocks, j.block(f.Key, []iampolicy.Str{nm.Key}, b, f.Key.Value))
				}
			}
		case "locals":
			for _, b := range j.bodies(f.Value) {
				body.Blocks = append(body.Blocks, j.block(f.Key, nil, b, ""))
			}
		}
	}
	return body, nil
}

type jsonConv struct{ file string }

// bodies is an object, or each object of an array (a block written twice).
func (j jsonConv) bodies(n iampolicy.Node) []iampolicy.Node {
	if n.Kind == iampolicy.Array {
		return n.Items
	}
	return []iampolicy.Node{n}
}

func (j jsonConv) block(typ iampolicy.Str, labels []iampolicy.Str, n iampolicy.Node, kind string) *hclsyntax.Block {
	b := &hclsyntax.Block{Type: typ.Value, TypeRange: typ.Range, OpenBraceRange: n.Range, CloseBraceRange: n.Range}
	for _, l := range labels {
		b.Labels = append(b.Labels, l.Value)
		b.LabelRanges = append(b.LabelRanges, l.Range)
	}
	b.Body = j.body(n, kind)
	return b
}

func (j jsonConv) body(n iampolicy.Node, kind string) *hclsyntax.Body {
	body := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: n.Range, EndRange: n.Range}
	for _, f := range n.Fields {
		k := f.Key.Value
		switch {
		case k == "//":
			// a JSON comment
		case k == "dynamic":
			for _, lab := range f.Value.Fields {
				for _, b := range j.bodies(lab.Value) {
					body.Blocks = append(body.Blocks, j.block(f.Key, []iampolicy.Str{lab.Key}, b, ""))
				}
			}
		case jsonBlockKeys[k] && (f.Value.Kind == iampolicy.Object || f.Value.Kind == iampolicy.Array):
			for _, b := range j.bodies(f.Value) {
				body.Blocks = append(body.Blocks, j.block(f.Key, nil, b, ""))
			}
		default:
			var e hclsyntax.Expression
			if jsonExprKeys[k] && f.Value.Kind == iampolicy.String && (kind == "variable" || k == "iterator") {
				e = j.parsed(f.Value, false)
			} else {
				e = j.expr(f.Value)
			}
			body.Attributes[k] = &hclsyntax.Attribute{Name: k, Expr: e, SrcRange: hcl.RangeBetween(f.Key.Range, f.Value.Range),
				NameRange: f.Key.Range, EqualsRange: f.Key.Range}
		}
	}
	return body
}

// parsed reads a JSON string as a template (Terraform's rule for JSON
// strings) or as a bare expression.
func (j jsonConv) parsed(n iampolicy.Node, template bool) hclsyntax.Expression {
	start := n.Range.Start
	start.Column++ // past the opening quote
	start.Byte++
	var e hclsyntax.Expression
	var diags hcl.Diagnostics
	if template {
		e, diags = hclsyntax.ParseTemplate([]byte(n.Str.Value), j.file, start)
	} else {
		e, diags = hclsyntax.ParseExpression([]byte(n.Str.Value), j.file, start)
	}
	if diags.HasErrors() {
		// Not a valid template: keep the text, as Terraform would reject it
		// at validate; the value stays a visible literal.
		return &hclsyntax.LiteralValueExpr{Val: cty.StringVal(n.Str.Value), SrcRange: n.Range}
	}
	return e
}

func (j jsonConv) expr(n iampolicy.Node) hclsyntax.Expression {
	switch n.Kind {
	case iampolicy.String:
		return j.parsed(n, true)
	case iampolicy.Number:
		v, err := cty.ParseNumberVal(n.Str.Value)
		if err != nil {
			v = cty.UnknownVal(cty.Number)
		}
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: n.Range}
	case iampolicy.Bool:
		return &hclsyntax.LiteralValueExpr{Val: cty.BoolVal(n.Str.Value == "true"), SrcRange: n.Range}
	case iampolicy.Array:
		t := &hclsyntax.TupleConsExpr{SrcRange: n.Range, OpenRange: n.Range}
		for _, it := range n.Items {
			t.Exprs = append(t.Exprs, j.expr(it))
		}
		return t
	case iampolicy.Object:
		o := &hclsyntax.ObjectConsExpr{SrcRange: n.Range, OpenRange: n.Range}
		for _, f := range n.Fields {
			key := &hclsyntax.ObjectConsKeyExpr{Wrapped: j.parsed(iampolicy.Node{Kind: iampolicy.String, Str: f.Key, Range: f.Key.Range}, true)}
			o.Items = append(o.Items, hclsyntax.ObjectConsItem{KeyExpr: key, ValueExpr: j.expr(f.Value)})
		}
		return o
	}
	return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: n.Range}
}
