package policycheck

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcontract"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	"github.com/hashicorp/hcl/v2"
	tfjson "github.com/hashicorp/terraform-json"
)

// CheckPlan applies the rules to the exact IAM values of a
// `terraform show -json` plan: what apply will send to AWS. Positions are
// inside each policy's JSON, with the resource address as the file name.
//
// A policy the plan cannot know yet (it embeds an ARN created by the same
// apply) is an IAM008 warning: the HCL check on the pull request already
// covered its shape. Contract resources compare by action only here, since
// the contract names resources by Terraform reference and the plan holds
// ARNs.
func CheckPlan(plan *tfjson.Plan, contract *iamcontract.Contract) []Finding {
	s := PlanSubject(plan)
	if contract != nil {
		s.Contract = contract.Resolve(nil)
		for i := range s.Contract {
			for j := range s.Contract[i].Allows {
				al := &s.Contract[i].Allows[j]
				for k := range al.Resources {
					al.Resources[k] = iampolicy.Str{Value: "*", Range: al.Resources[k].Range}
				}
			}
		}
	}
	fs := policyrules.Run(s, iamcatalog.Default())
	for i := range fs {
		if fs[i].Rule == "IAM008" && strings.Contains(fs[i].Message, "is not known until apply") {
			fs[i].Severity = policyrules.Warning
		}
	}
	return fs
}

// PlanSubject reads roles and documents from a plan's planned values.
func PlanSubject(plan *tfjson.Plan) *policyrules.Subject {
	s := &policyrules.Subject{}
	if plan == nil || plan.PlannedValues == nil || plan.PlannedValues.RootModule == nil {
		return s
	}
	var resources []*tfjson.StateResource
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		resources = append(resources, m.Resources...)
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(plan.PlannedValues.RootModule)

	roles := map[string]*policyrules.Role{}
	byName := map[string]*policyrules.Role{}
	policies := map[string]*policyrules.Doc{}
	unknownPolicy := func(addr, attr string) {
		s.Problems = append(s.Problems, policyrules.Problem{Range: planRange(addr, attr), Owner: addr,
			Message: fmt.Sprintf("%s.%s is not known until apply; it was checked in HCL only", addr, attr)})
	}
	doc := func(addr, attr string, v any, kind policyrules.DocKind) *policyrules.Doc {
		text, ok := v.(string)
		if !ok || text == "" {
			unknownPolicy(addr, attr)
			return nil
		}
		r := planRange(addr, attr)
		n, err := iampolicy.ParseJSON([]byte(text), r.Filename, nil)
		d := &policyrules.Doc{Owner: addr, Kind: kind}
		if err != nil {
			d.Policy.Problems = append(d.Policy.Problems, iampolicy.Problem{Range: r, Message: "the policy is not valid JSON: " + err.Error()})
		} else {
			d.Policy = iampolicy.FromNode(n)
		}
		s.Docs = append(s.Docs, d)
		return d
	}
	for _, r := range resources {
		if r.Mode != tfjson.ManagedResourceMode {
			continue
		}
		v := r.AttributeValues
		switch r.Type {
		case "aws_iam_role":
			role := &policyrules.Role{Address: stripIndex(r.Address), Range: planRange(r.Address, "")}
			roles[role.Address] = role
			if n, ok := v["name"].(string); ok {
				byName[n] = role
			}
			s.Roles = append(s.Roles, role)
			if d := doc(r.Address, "assume_role_policy", v["assume_role_policy"], policyrules.Trust); d != nil {
				d.Roles = []string{role.Address}
			}
			if ips, ok := v["inline_policy"].([]any); ok {
				for _, ip := range ips {
					m, _ := ip.(map[string]any)
					if p, ok := m["policy"].(string); ok && p != "" {
						if d := doc(r.Address, "inline_policy", p, policyrules.Identity); d != nil {
							d.Roles = []string{role.Address}
							role.Docs = append(role.Docs, d)
						}
					}
				}
			}
		case "aws_iam_policy":
			if d := doc(r.Address, "policy", v["policy"], policyrules.Identity); d != nil {
				policies[stripIndex(r.Address)] = d
				if arn, ok := v["arn"].(string); ok {
					policies[arn] = d
				}
			}
		case "aws_sqs_queue_policy", "aws_ecr_repository_policy", "aws_s3_bucket_policy", "aws_sns_topic_policy":
			doc(r.Address, "policy", v["policy"], policyrules.Resource)
		}
	}
	findRole := func(r *tfjson.StateResource, attr string) *policyrules.Role {
		if n, ok := r.AttributeValues[attr].(string); ok {
			if role := byName[n]; role != nil {
				return role
			}
		}
		for _, ref := range configRefs(plan, r.Address, attr) {
			if role := roles[ref]; role != nil {
				return role
			}
		}
		return nil
	}
	for _, r := range resources {
		v := r.AttributeValues
		switch r.Type {
		case "aws_iam_role_policy":
			d := doc(r.Address, "policy", v["policy"], policyrules.Identity)
			role := findRole(r, "role")
			if role != nil && d == nil {
				role.Pending = true
			}
			if d != nil && role != nil {
				d.Roles = []string{role.Address}
				role.Docs = append(role.Docs, d)
			}
		case "aws_iam_role_policy_attachment":
			role := findRole(r, "role")
			if role == nil {
				continue
			}
			var d *policyrules.Doc
			if arn, ok := v["policy_arn"].(string); ok {
				d = policies[arn]
			}
			if d == nil {
				for _, ref := range configRefs(plan, r.Address, "policy_arn") {
					d = policies[ref]
				}
			}
			if d == nil {
				unknownPolicy(r.Address, "policy_arn")
				role.Pending = true
				continue
			}
			d.Roles = append(d.Roles, role.Address)
			role.Docs = append(role.Docs, d)
		}
	}
	// Unknown values at plan time are warnings: see CheckPlan.
	return s
}

func planRange(addr, attr string) hcl.Range {
	name := addr
	if attr != "" {
		name += "." + attr
	}
	return hcl.Range{Filename: name, Start: hcl.Pos{Line: 1, Column: 1}, End: hcl.Pos{Line: 1, Column: 1}}
}

// moduleRE matches one module step of an address, with its instance key
// if the call has count or for_each: module.service["api"].
var moduleRE = regexp.MustCompile(`^module\.([A-Za-z0-9_-]+)(\[[^\]]*\])?\.`)

var trailingIndexRE = regexp.MustCompile(`\[[^\]]*\]$`)

// stripIndex drops the resource's own count/for_each key but keeps the
// module instance keys, so module.service["api"].aws_iam_role.task stays
// the role the contract names (and the HCL evaluator reports), apart from
// module.service["worker"]'s.
func stripIndex(addr string) string {
	prefix := ""
	for {
		m := moduleRE.FindString(addr)
		if m == "" {
			break
		}
		prefix += m
		addr = addr[len(m):]
	}
	return prefix + trailingIndexRE.ReplaceAllString(addr, "")
}

// configRefs returns the resource addresses (module path included) that
// a resource's argument refers to in the plan's configuration.
func configRefs(plan *tfjson.Plan, addr, attr string) []string {
	if plan.Config == nil || plan.Config.RootModule == nil {
		return nil
	}
	mod := plan.Config.RootModule
	prefix := ""
	rest := stripIndex(addr)
	for {
		m := moduleRE.FindStringSubmatch(rest)
		if m == nil {
			break
		}
		call, ok := mod.ModuleCalls[m[1]]
		if !ok || call.Module == nil {
			return nil
		}
		prefix += m[0]
		mod = call.Module
		rest = rest[len(m[0]):]
	}
	local := rest
	for _, r := range mod.Resources {
		if r.Address != local {
			continue
		}
		e, ok := r.Expressions[attr]
		if !ok || e == nil || e.ExpressionData == nil {
			return nil
		}
		var out []string
		for _, ref := range e.References {
			segs := strings.Split(ref, ".")
			if len(segs) >= 2 {
				out = append(out, prefix+segs[0]+"."+segs[1])
			}
		}
		return out
	}
	return nil
}
