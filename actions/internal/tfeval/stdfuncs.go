package tfeval

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// ctyFuncs are Terraform's functions on fully known values, each the go-cty
// implementation Terraform itself uses
// (https://developer.hashicorp.com/terraform/language/functions). They run
// when every argument is known; a function of values that hold a resource
// attribute or an unknown is handled by the evaluators in funcs.go, which
// keep symbols and ranges, or stays unknown.
var ctyFuncs = map[string]function.Function{
	"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc, "log": stdlib.LogFunc,
	"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc, "signum": stdlib.SignumFunc,
	"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc, "indent": stdlib.IndentFunc,
	"join": stdlib.JoinFunc, "lower": stdlib.LowerFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
	"replace": replaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc,
	"title": stdlib.TitleFunc, "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
	"trimspace": stdlib.TrimSpaceFunc, "upper": stdlib.UpperFunc,
	"chunklist": stdlib.ChunklistFunc, "coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
	"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc,
	"flatten": stdlib.FlattenFunc, "index": stdlib.IndexFunc, "keys": stdlib.KeysFunc, "length": stdlib.LengthFunc,
	"lookup": stdlib.LookupFunc, "merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
	"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc, "setsubtract": stdlib.SetSubtractFunc,
	"setunion": stdlib.SetUnionFunc, "slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "values": stdlib.ValuesFunc,
	"zipmap": stdlib.ZipmapFunc, "csvdecode": stdlib.CSVDecodeFunc, "formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,
	"coalesce": stdlib.CoalesceFunc,
	"basename": pathFunc(path.Base), "dirname": pathFunc(path.Dir),
	"startswith": strPredFunc(strings.HasPrefix), "endswith": strPredFunc(strings.HasSuffix), "strcontains": strPredFunc(strings.Contains),
}

var keepsArgRange = map[string]bool{"lower": true, "upper": true, "trimspace": true, "trimprefix": true, "trimsuffix": true,
	"trim": true, "replace": true, "chomp": true, "title": true, "substr": true, "indent": true}

// replaceFunc is Terraform's replace: a substring, or a regular expression
// when written between slashes.
var replaceFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}, {Name: "replace", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
		sub := args[1].AsString()
		if len(sub) > 1 && sub[0] == '/' && sub[len(sub)-1] == '/' {
			return stdlib.RegexReplace(args[0], cty.StringVal(sub[1:len(sub)-1]), args[2])
		}
		return stdlib.Replace(args[0], args[1], args[2])
	},
})

func pathFunc(f func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
}

func strPredFunc(f func(s, x string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "x", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// callCty runs a table function when every argument is a known value.
func callCty(name string, args []Value, r hcl.Range) (Value, bool) {
	f, ok := ctyFuncs[name]
	if !ok {
		return Value{}, false
	}
	cargs := make([]cty.Value, len(args))
	for i, a := range args {
		c, ok := toCty(a)
		if !ok {
			return Value{}, false
		}
		cargs[i] = c
	}
	out, err := f.Call(cargs)
	if err != nil {
		return unknown(name+"(): "+err.Error(), r), true
	}
	if keepsArgRange[name] && len(args) > 0 {
		// a transformed string is still the value written in the argument:
		// a finding about it belongs there
		r = args[0].Range
	}
	return fromCty(out, r), true
}

// toCty converts a fully known value; anything holding a symbol, an
// unknown or a policy tree is not converted.
func toCty(v Value) (cty.Value, bool) {
	switch v.Kind {
	case KNull:
		return cty.NullVal(cty.DynamicPseudoType), true
	case KString:
		if len(v.Syms) > 0 {
			return cty.NilVal, false
		}
		return cty.StringVal(v.S), true
	case KNumber:
		n, err := cty.ParseNumberVal(v.S)
		return n, err == nil
	case KBool:
		return cty.BoolVal(v.S == "true"), true
	case KList:
		if v.Alt {
			return cty.NilVal, false
		}
		items := make([]cty.Value, len(v.List))
		for i, it := range v.List {
			c, ok := toCty(it)
			if !ok {
				return cty.NilVal, false
			}
			items[i] = c
		}
		if len(items) == 0 {
			return cty.EmptyTupleVal, true
		}
		return cty.TupleVal(items), true
	case KObject:
		m := make(map[string]cty.Value, len(v.Obj))
		for k, it := range v.Obj {
			c, ok := toCty(it)
			if !ok {
				return cty.NilVal, false
			}
			m[k] = c
		}
		if len(m) == 0 {
			return cty.EmptyObjectVal, true
		}
		return cty.ObjectVal(m), true
	}
	return cty.NilVal, false
}
