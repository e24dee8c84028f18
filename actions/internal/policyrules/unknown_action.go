package policyrules

import (
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// unknownAction flags actions the catalogue does not know: a typo grants
// nothing, so the service fails at run time, and a deny with a typo
// protects nothing.
type unknownAction struct{}

func (unknownAction) Meta() Meta {
	return Meta{ID: "IAM006", Name: "unknown-action", Severity: Error,
		Summary: "an action is not in the IAM catalogue"}
}

func (unknownAction) Check(c *Check) {
	c.statements([]DocKind{Identity, Resource, Trust}, func(d *Doc, st *iampolicy.Statement) {
		if d.Managed != "" {
			return // AWS's own document may name retired services; nothing to fix
		}
		for _, list := range [][]iampolicy.Str{st.Action, st.NotAction} {
			for _, a := range list {
				if !a.Literal() || a.Value == "*" {
					continue
				}
				i := strings.IndexByte(a.Value, ':')
				if i < 0 {
					continue // malformed says so
				}
				pfx := a.Value[:i]
				if !iamcatalog.IsWildcard(pfx) && !c.Catalog.KnownService(pfx) {
					c.Report(a.Range, roles(d), "service prefix %q in %q is not an AWS service (catalogue of %s)", pfx, a.Value, c.Catalog.Date)
					continue
				}
				if len(c.Catalog.Expand(a.Value)) == 0 {
					if iamcatalog.IsWildcard(a.Value) {
						c.Report(a.Range, roles(d), "%q matches no action (catalogue of %s)", a.Value, c.Catalog.Date)
					} else {
						c.Report(a.Range, roles(d), "%q is not an action of %s (catalogue of %s; if AWS added it, refresh actions/internal/iamcatalog)", a.Value, pfx, c.Catalog.Date)
					}
				}
			}
		}
	})
}
