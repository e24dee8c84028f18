package policyrules

import (
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
)

// codeRule compares the AWS SDK calls a service's Go code makes with what
// its role grants. A call the role does not allow fails at run time: an
// error at the call. A granted action the code never calls is excess
// privilege: a warning at the grant.
type codeRule struct{}

func (codeRule) Meta() Meta {
	return Meta{ID: "IAM010", Name: "code", Severity: Error,
		Summary: "a service's AWS calls differ from its role's grants"}
}

func (codeRule) Check(c *Check) {
	if c.Subject.Code == nil || c.Subject.Contract == nil {
		return
	}
	byAddr := map[string]*Role{}
	for _, r := range c.Subject.Roles {
		byAddr[r.Address] = r
	}
	for _, cr := range c.Subject.Contract {
		if cr.Code == "" {
			continue
		}
		calls, ok := c.Subject.Code[cr.Code]
		if !ok {
			c.Report(cr.Range, cr.Address, "the contract maps %s to service %q, but %s/%s has no Go main package", cr.Address, cr.Code, c.Subject.CodeDir, cr.Code)
			continue
		}
		r, ok := byAddr[cr.Address]
		if !ok {
			continue // the contract rule reports it
		}
		gs := c.grants(r)
		called := map[string]bool{}
		for _, call := range calls {
			called[strings.ToLower(call.Action)] = true
			ok := false
			for _, g := range gs {
				if g.action == strings.ToLower(call.Action) {
					ok = true
					break
				}
			}
			if !ok {
				c.Report(call.Range, cr.Address, "service %s calls %s, which needs %s, but %s does not grant it", cr.Code, call.Operation, call.Action, cr.Address)
			}
		}
		// Granted but never called: a warning per granted element.
		seen := map[string]bool{}
		var unused []grant
		for _, g := range gs {
			if called[g.action] {
				continue
			}
			if act, ok := c.Catalog.Lookup(g.action); ok && act.StarOnly() && iamcatalog.IsWildcard(g.pattern) {
				continue
			}
			k := g.at.Range.String() + g.action
			if seen[k] {
				continue
			}
			seen[k] = true
			unused = append(unused, g)
		}
		sort.SliceStable(unused, func(i, j int) bool { return unused[i].action < unused[j].action })
		for _, g := range unused {
			c.ReportAs(Warning, g.at.Range, cr.Address, "%s is granted %s, but service %s never calls it; remove the grant", cr.Address, g.action, cr.Code)
		}
	}
}
