package policyrules

import "github.com/conveyor-dev/conveyor/actions/internal/iampolicy"

// notAction flags Allow with NotAction, NotResource or NotPrincipal: each
// grants everything except a list, including actions and resources that
// do not exist yet.
type notAction struct{}

func (notAction) Meta() Meta {
	return Meta{ID: "IAM002", Name: "allow-not-element", Severity: Error,
		Summary: "an Allow uses NotAction, NotResource or NotPrincipal, which grants everything not listed"}
}

func (notAction) Check(c *Check) {
	c.statements([]DocKind{Identity, Resource, Trust}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() {
			return
		}
		for _, k := range []struct {
			key string
			has bool
			els []iampolicy.Str
		}{{"NotAction", st.HasNotAction, st.NotAction}, {"NotResource", st.HasNotResource, st.NotResource}} {
			if !k.has {
				continue
			}
			rng := st.Keys[k.key]
			if len(k.els) > 0 {
				rng = k.els[0].Range
			}
			c.Report(rng, roles(d), "Allow with %s grants everything except what is listed; use %s with the exact values", k.key, k.key[3:])
		}
		if st.HasNotPrincipal {
			rng := st.Keys["NotPrincipal"]
			if len(st.NotPrincipal) > 0 {
				rng = st.NotPrincipal[0].Value.Range
			}
			c.Report(rng, roles(d), "Allow with NotPrincipal grants to every principal except those listed; name the principals")
		}
	})
}
