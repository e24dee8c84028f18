package policyrules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// contractRule compares what each role is granted with what the contract
// in policies/ says it may do. Granted but not in the contract is an error
// at the granted action or resource; in the contract but not granted is an
// error at the contract's line.
type contractRule struct{}

func (contractRule) Meta() Meta {
	return Meta{ID: "IAM009", Name: "contract", Severity: Error,
		Summary: "a role's grants differ from its contract in policies/"}
}

// grant is one (action, resource) an Allow gives, with where it is written.
type grant struct {
	action   string // lower-case, expanded
	resource iampolicy.Str
	at       iampolicy.Str // the action element
	pattern  string
}

// grants lists what a role's identity documents allow, wildcards expanded
// and denied pairs removed.
func (c *Check) grants(r *Role) []grant {
	var out []grant
	for _, d := range r.Docs {
		if d.Kind != Identity {
			continue
		}
		denies := c.denies(d)
		for i := range d.Policy.Statements {
			st := &d.Policy.Statements[i]
			if !st.IsAllow() {
				continue
			}
			for _, a := range st.Action {
				if !a.Literal() {
					continue // unresolved reports it
				}
				for _, x := range c.expand(a, st, denies) {
					for _, res := range st.Resource {
						out = append(out, grant{action: x, resource: res, at: a, pattern: a.Value})
					}
				}
			}
		}
	}
	return out
}

// resourceMatches reports whether a contract resource covers a granted
// one: equal text (symbols compare by their reference), or an ARN pattern
// that matches the granted ARN.
func resourceMatches(contract, granted iampolicy.Str) bool {
	if contract.Value == granted.Value || (contract.Literal() && contract.Value == "*") {
		return true
	}
	return contract.Literal() && granted.Literal() && iamcatalog.Match(contract.Value, granted.Value)
}

func (contractRule) Check(c *Check) {
	if c.Subject.Contract == nil {
		return
	}
	byAddr := map[string]*Role{}
	for _, r := range c.Subject.Roles {
		byAddr[r.Address] = r
	}
	inContract := map[string]bool{}
	for _, cr := range c.Subject.Contract {
		inContract[cr.Address] = true
		r, ok := byAddr[cr.Address]
		if !ok {
			c.Report(cr.Range, cr.Address, "the contract names role %s, which the Terraform does not define; fix the address or remove the entry", cr.Address)
			continue
		}
		gs := c.grants(r)
		// Granted but not in the contract, reported once per element.
		type excess struct {
			at      iampolicy.Str
			acts    map[string]bool
			res     bool
			allowed map[string]bool
		}
		var order []string
		bad := map[string]*excess{}
		for _, g := range gs {
			okAction, okBoth := false, false
			allowedOn := map[string]bool{}
			for _, al := range cr.Allows {
				for _, ca := range al.Actions {
					if !iamcatalog.Match(ca.Value, g.action) {
						continue
					}
					okAction = true
					for _, cres := range al.Resources {
						allowedOn[fmt.Sprintf("%q", cres.Value)] = true
						if resourceMatches(cres, g.resource) {
							okBoth = true
						}
					}
				}
			}
			if okBoth {
				continue
			}
			at := g.at
			if okAction {
				at = g.resource
			}
			k := fmt.Sprintf("%s:%d:%d:%v", at.Range.Filename, at.Range.Start.Line, at.Range.Start.Column, okAction)
			e := bad[k]
			if e == nil {
				e = &excess{at: at, acts: map[string]bool{}, res: okAction, allowed: map[string]bool{}}
				bad[k] = e
				order = append(order, k)
			}
			e.acts[g.action+" on "+g.resource.Value] = true
			for r := range allowedOn {
				e.allowed[r] = true
			}
		}
		for _, k := range order {
			e := bad[k]
			var list []string
			for a := range e.acts {
				list = append(list, a)
			}
			sort.Strings(list)
			if e.res {
				c.Report(e.at.Range, cr.Address, "resource %q is not in the contract for %s (grants %s); the contract allows these actions only on %s", e.at.Value, cr.Address, c.sample(list, 3), sortedKeys(e.allowed))
			} else {
				c.Report(e.at.Range, cr.Address, "%q grants %s, which the contract for %s does not allow", e.at.Value, c.sample(list, 3), cr.Address)
			}
		}
		// In the contract but not granted.
		if r.Pending {
			continue
		}
		for _, al := range cr.Allows {
			for _, ca := range al.Actions {
				for _, cres := range al.Resources {
					found := false
					for _, g := range gs {
						if iamcatalog.Match(ca.Value, g.action) && resourceMatches(cres, g.resource) {
							found = true
							break
						}
					}
					if !found {
						c.Report(ca.Range, cr.Address, "the contract allows %s on %q but %s is not granted it; grant it or remove it from the contract", ca.Value, cres.Value, cr.Address)
					}
				}
			}
		}
	}
	for _, r := range c.Subject.Roles {
		if !inContract[r.Address] {
			c.ReportAs(Warning, r.Range, r.Address, "role %s has no entry in the contract; add one in policies/", r.Address)
		}
	}
}

func sortedKeys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
