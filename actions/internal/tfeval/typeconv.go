package tfeval

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// varType is a variable's declared type with its optional() defaults, as
// Terraform reads it (hcl's typeexpr, the package Terraform uses).
type varType struct {
	ty   cty.Type
	defs *typeexpr.Defaults
}

func (s *Scope) variableType(name string, b *hclsyntax.Block) *varType {
	if s.types == nil {
		s.types = map[string]*varType{}
	}
	if t, ok := s.types[name]; ok {
		return t
	}
	var out *varType
	if a, ok := b.Body.Attributes["type"]; ok {
		ty, defs, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		if !diags.HasErrors() {
			out = &varType{ty: ty, defs: defs}
		}
	}
	s.types[name] = out
	return out
}

// conform gives a value the shape its type constraint fixes: an object
// type's attributes that the value leaves out become their optional()
// default, or null, exactly as Terraform converts a variable's value
// (https://developer.hashicorp.com/terraform/language/expressions/type-constraints#optional-object-type-attributes).
// A missing attribute is therefore never "unknown".
func conform(v Value, ty cty.Type, defs *typeexpr.Defaults, r hcl.Range) Value {
	if v.Kind == KList && v.Alt {
		out := v
		out.List = make([]Value, len(v.List))
		for i, a := range v.List {
			out.List[i] = conform(a, ty, defs, r)
		}
		return out
	}
	child := func(key string) *typeexpr.Defaults {
		if defs == nil {
			return nil
		}
		return defs.Children[key]
	}
	switch {
	case ty.IsListType() || ty.IsSetType():
		if v.Kind != KList {
			return v
		}
		out := v
		out.List = make([]Value, len(v.List))
		for i, it := range v.List {
			out.List[i] = conform(it, ty.ElementType(), child(""), r)
		}
		return out
	case ty.IsMapType():
		if v.Kind != KObject {
			return v
		}
		out := v
		out.Obj = make(map[string]Value, len(v.Obj))
		for k, it := range v.Obj {
			out.Obj[k] = conform(it, ty.ElementType(), child(""), r)
		}
		return out
	case ty.IsObjectType():
		if v.Kind != KObject {
			return v
		}
		out := v
		out.Obj = make(map[string]Value, len(v.Obj))
		out.Keys = append([]string(nil), v.Keys...)
		out.KeyRanges = append([]hcl.Range(nil), v.KeyRanges...)
		for k, it := range v.Obj {
			out.Obj[k] = it
		}
		for name, at := range ty.AttributeTypes() {
			cur, ok := out.Obj[name]
			if !ok || cur.Kind == KNull {
				var dv cty.Value
				if defs != nil {
					dv = defs.DefaultValues[name]
				}
				if dv != cty.NilVal && !dv.IsNull() {
					cur = fromCty(dv, v.Range)
				} else if !ok {
					cur = Value{Kind: KNull, Range: v.Range}
				}
				if !ok {
					out.Keys = append(out.Keys, name)
					out.KeyRanges = append(out.KeyRanges, v.Range)
				}
			}
			out.Obj[name] = conform(cur, at, child(name), r)
		}
		return out
	}
	return v
}
