package tfeval

import (
	"strconv"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
)

// Kind is the type of a Value.
type Kind uint8

const (
	KNull Kind = iota
	KString
	KNumber
	KBool
	KList
	KObject
	// KUnknown is a value that could not be computed: a variable without a
	// value, an unsupported function. S says what it was.
	KUnknown
	// KDoc is a policy document built by jsonencode() or an
	// aws_iam_policy_document: a JSON tree that kept every range.
	KDoc
)

// Value is an evaluated Terraform value that remembers where it was
// written. Strings that embed a reference to a resource attribute keep the
// reference as ${address.attr} in S and list it in Syms: a table's ARN stays
// aws_dynamodb_table.tasks.arn, never a placeholder. A symbol that starts
// with '?' is unknown (a variable without a value).
type Value struct {
	Kind      Kind
	S         string
	Syms      []string
	List      []Value
	Keys      []string
	KeyRanges []hcl.Range
	Obj       map[string]Value
	Doc       *iampolicy.Node
	Range     hcl.Range
	// Alt marks a list made of both branches of a conditional whose
	// condition is unknown: the checker must consider each.
	Alt bool
	// Default marks a value taken from a root module variable's default,
	// which -var or a tfvars file can change: a policy chosen by it is
	// checked on both branches.
	Default bool
	// loc maps offsets in S to file positions, for JSON parsed out of a
	// string literal or heredoc.
	loc iampolicy.Locator
}

func str(s string, r hcl.Range) Value { return Value{Kind: KString, S: s, Range: r} }

func unknown(what string, r hcl.Range) Value { return Value{Kind: KUnknown, S: what, Range: r} }

func symbol(sym string, r hcl.Range) Value {
	return Value{Kind: KString, S: "${" + sym + "}", Syms: []string{sym}, Range: r}
}

func number(f float64, r hcl.Range) Value {
	return Value{Kind: KNumber, S: strconv.FormatFloat(f, 'f', -1, 64), Range: r}
}

func boolean(b bool, r hcl.Range) Value {
	if b {
		return Value{Kind: KBool, S: "true", Range: r}
	}
	return Value{Kind: KBool, S: "false", Range: r}
}

func list(items []Value, r hcl.Range) Value { return Value{Kind: KList, List: items, Range: r} }

func object(r hcl.Range) Value { return Value{Kind: KObject, Obj: map[string]Value{}, Range: r} }

func (v *Value) set(k string, kr hcl.Range, val Value) {
	if v.Obj == nil {
		v.Obj = map[string]Value{}
	}
	if _, ok := v.Obj[k]; !ok {
		v.Keys = append(v.Keys, k)
		v.KeyRanges = append(v.KeyRanges, kr)
	}
	v.Obj[k] = val
}

// IsKnownString reports a plain string with no symbol.
func (v Value) IsKnownString() bool { return v.Kind == KString && len(v.Syms) == 0 }

// PureSymbol returns the symbol when the string is exactly one reference.
func (v Value) PureSymbol() (string, bool) {
	if v.Kind == KString && len(v.Syms) == 1 && v.S == "${"+v.Syms[0]+"}" {
		return v.Syms[0], true
	}
	return "", false
}

// Known reports whether the value has no unknown part at its top.
func (v Value) Known() bool {
	if v.Kind == KUnknown {
		return false
	}
	for _, s := range v.Syms {
		if strings.HasPrefix(s, "?") {
			return false
		}
	}
	return true
}

// Number returns the numeric value.
func (v Value) Number() (float64, bool) {
	if v.Kind != KNumber && v.Kind != KString {
		return 0, false
	}
	if len(v.Syms) > 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.S, 64)
	return f, err == nil
}

// Bool returns the boolean value.
func (v Value) Bool() (bool, bool) {
	if (v.Kind == KBool || v.Kind == KString) && len(v.Syms) == 0 {
		switch v.S {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// Elements returns the items of a list, the values of an object in key
// order, and the union of alternatives.
func (v Value) Elements() []Value {
	switch v.Kind {
	case KList:
		if v.Alt {
			var out []Value
			for _, a := range v.List {
				if a.Kind == KList || a.Kind == KObject {
					out = append(out, a.Elements()...)
				} else {
					out = append(out, a)
				}
			}
			return out
		}
		return v.List
	case KObject:
		out := make([]Value, 0, len(v.Keys))
		for _, k := range v.Keys {
			out = append(out, v.Obj[k])
		}
		return out
	}
	return nil
}

// Node converts the value to a policy JSON tree, keeping ranges and
// symbols. Alternatives become arrays: each branch is checked.
func (v Value) Node() iampolicy.Node {
	switch v.Kind {
	case KDoc:
		if v.Doc != nil {
			return *v.Doc
		}
	case KString:
		return iampolicy.Node{Kind: iampolicy.String, Str: v.Str(), Range: v.Range}
	case KNumber:
		return iampolicy.Node{Kind: iampolicy.Number, Str: v.Str(), Range: v.Range}
	case KBool:
		return iampolicy.Node{Kind: iampolicy.Bool, Str: v.Str(), Range: v.Range}
	case KNull:
		return iampolicy.Node{Kind: iampolicy.Null, Range: v.Range}
	case KList:
		n := iampolicy.Node{Kind: iampolicy.Array, Range: v.Range}
		for _, it := range v.List {
			n.Items = append(n.Items, it.Node())
		}
		return n
	case KObject:
		n := iampolicy.Node{Kind: iampolicy.Object, Range: v.Range}
		for i, k := range v.Keys {
			n.Fields = append(n.Fields, iampolicy.Field{Key: iampolicy.Str{Value: k, Range: v.KeyRanges[i]}, Value: v.Obj[k].Node()})
		}
		return n
	}
	return iampolicy.Node{Kind: iampolicy.Unknown, Str: iampolicy.Str{Value: v.S, Range: v.Range, Unknown: true}, Range: v.Range}
}

// Str converts a scalar value to a policy string.
func (v Value) Str() iampolicy.Str {
	s := iampolicy.Str{Value: v.S, Range: v.Range, Symbols: v.Syms}
	if v.Kind == KUnknown {
		s.Unknown = true
	}
	return s
}
