package catalog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// tfService is what a root module gives one ECS service: the arguments of
// its call of modules/ecs-service, evaluated.
type tfService struct {
	name  string // container_name
	facts map[string]int64
	at    string // file:line of the module block
}

// serviceArgs are the ecs-service arguments compared with the catalogue;
// container_port may be absent (a service without inbound traffic).
var serviceArgs = []string{"cpu", "memory", "min_count", "max_count", "stop_timeout", "container_port"}

// tfFile is one parsed .tf file.
type tfFile struct {
	name string
	body *hclsyntax.Body
}

// parseDir parses every file in dir whose name ends in ext.
func parseDir(dir, ext string) ([]tfFile, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []tfFile
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		f, diags := hclsyntax.ParseConfig(src, n, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", n, diags.Error())
		}
		out = append(out, tfFile{n, f.Body.(*hclsyntax.Body)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s files in %s", ext, dir)
	}
	return out, nil
}

// terraformServices evaluates, without Terraform and without state, every
// call of modules/ecs-service in the root module dir: one call per service
// or one call with for_each over a map of services. Variables take their
// defaults (with optional() attribute defaults applied, as Terraform does);
// anything that needs state (module outputs, data sources) is unknown, and
// an argument that stays unknown is reported, never guessed.
func terraformServices(dir string) ([]tfService, []string, error) {
	files, err := parseDir(dir, ".tf")
	if err != nil {
		return nil, nil, err
	}
	vars := map[string]cty.Value{}
	locals := map[string]*hclsyntax.Attribute{}
	var calls []*hclsyntax.Block
	for _, f := range files {
		for _, b := range f.body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				vars[b.Labels[0]] = variableDefault(b)
			case b.Type == "locals":
				for n, a := range b.Body.Attributes {
					locals[n] = a
				}
			case b.Type == "module" && len(b.Labels) == 1:
				if src, ok := b.Body.Attributes["source"]; ok {
					if v, d := src.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && strings.HasSuffix(v.AsString(), "modules/ecs-service") {
						calls = append(calls, b)
					}
				}
			}
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(vars), "module": cty.DynamicVal, "data": cty.DynamicVal,
		"path": cty.DynamicVal, "terraform": cty.DynamicVal,
	}, Functions: functions}
	// Locals may refer to each other in any order: evaluate until nothing
	// changes (a cycle or a state-dependent local stays unknown).
	known := map[string]cty.Value{}
	for n := range locals {
		known[n] = cty.DynamicVal
	}
	for pass := 0; pass <= len(locals); pass++ {
		ctx.Variables["local"] = cty.ObjectVal(known)
		changed := false
		for n, a := range locals {
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() || v.RawEquals(known[n]) {
				continue
			}
			known[n], changed = v, true
		}
		if !changed {
			break
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(known)

	var out []tfService
	var problems []string
	for _, b := range calls {
		at := fmt.Sprintf("%s:%d", b.DefRange().Filename, b.DefRange().Start.Line)
		for _, inst := range instances(b, ctx, at, &problems) {
			s := tfService{facts: map[string]int64{}, at: at + inst.key}
			if v, ok := evalAttr(b, "container_name", inst.ctx); ok && v.Type() == cty.String && v.IsKnown() {
				s.name = v.AsString()
			} else {
				problems = append(problems, fmt.Sprintf("%s: container_name of module %s%s cannot be read without Terraform state", at, b.Labels[0], inst.key))
				continue
			}
			for _, arg := range serviceArgs {
				v, ok := evalAttr(b, arg, inst.ctx)
				if !ok && arg == "container_port" {
					continue // absent: no inbound traffic
				}
				n, err := asInt(v)
				if !ok || err != nil {
					problems = append(problems, fmt.Sprintf("%s: %s of service %s cannot be read without Terraform state (%v): give it a literal or a variable default", s.at, arg, s.name, err))
					continue
				}
				if n != 0 || arg != "container_port" {
					s.facts[arg] = n
				}
			}
			out = append(out, s)
		}
	}
	return out, problems, nil
}

type instance struct {
	key string
	ctx *hcl.EvalContext
}

// instances expands a module call's for_each (a map or set of strings);
// a call without one is one instance.
func instances(b *hclsyntax.Block, ctx *hcl.EvalContext, at string, problems *[]string) []instance {
	fe, ok := b.Body.Attributes["for_each"]
	if !ok {
		return []instance{{ctx: ctx}}
	}
	coll, diags := fe.Expr.Value(ctx)
	// Like Terraform, only the keys must be known: a value may hold
	// attributes that need state (a target group ARN).
	if diags.HasErrors() || !coll.IsKnown() || coll.IsNull() || !coll.CanIterateElements() {
		*problems = append(*problems, fmt.Sprintf("%s: for_each of module %s cannot be read without Terraform state: %s", at, b.Labels[0], diags.Error()))
		return nil
	}
	var out []instance
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if coll.Type().IsSetType() {
			k = v
		}
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		key := fmt.Sprintf("[%s]", k.GoString())
		if k.Type() == cty.String {
			key = fmt.Sprintf("[%q]", k.AsString())
		}
		out = append(out, instance{key: key, ctx: child})
	}
	return out
}

func evalAttr(b *hclsyntax.Block, name string, ctx *hcl.EvalContext) (cty.Value, bool) {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, true
	}
	return v, true
}

func asInt(v cty.Value) (int64, error) {
	if v == cty.NilVal || !v.IsKnown() {
		return 0, fmt.Errorf("unknown")
	}
	if v.IsNull() {
		return 0, nil
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		return 0, err
	}
	i, acc := n.AsBigFloat().Int64()
	if acc != 0 {
		return 0, fmt.Errorf("%s is not a whole number", n.AsBigFloat().String())
	}
	return i, nil
}

// variableDefault is a variable's default, converted to its type with the
// type's optional() attribute defaults applied (Terraform applies them
// before converting); no default is unknown (a tfvars file sets it).
func variableDefault(b *hclsyntax.Block) cty.Value {
	d, ok := b.Body.Attributes["default"]
	if !ok {
		return cty.DynamicVal
	}
	v, diags := d.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	t, ok := b.Body.Attributes["type"]
	if !ok {
		return v
	}
	ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(t.Expr)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	if defaults != nil {
		v = defaults.Apply(v)
	}
	if cv, err := convert.Convert(v, ty); err == nil {
		return cv
	}
	return cty.DynamicVal
}

// functions are the Terraform functions a services map is likely to use,
// from cty's standard library (same semantics as Terraform's).
var functions = map[string]function.Function{
	"abs": stdlib.AbsoluteFunc, "can": tryfunc.CanFunc, "ceil": stdlib.CeilFunc, "coalesce": stdlib.CoalesceFunc,
	"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
	"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc,
	"format": stdlib.FormatFunc, "join": stdlib.JoinFunc, "keys": stdlib.KeysFunc, "length": stdlib.LengthFunc,
	"lookup": stdlib.LookupFunc, "lower": stdlib.LowerFunc, "max": stdlib.MaxFunc, "merge": stdlib.MergeFunc,
	"min": stdlib.MinFunc, "range": stdlib.RangeFunc, "replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc,
	"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)), "tonumber": stdlib.MakeToFunc(cty.Number),
	"tostring": stdlib.MakeToFunc(cty.String), "try": tryfunc.TryFunc, "upper": stdlib.UpperFunc,
	"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
}
