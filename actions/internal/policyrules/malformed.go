package policyrules

// malformed reports structural faults the policy reader found: a lowercase
// Effect, a missing Action, unknown keys, JSON that does not parse.
type malformed struct{}

func (malformed) Meta() Meta {
	return Meta{ID: "IAM007", Name: "malformed-policy", Severity: Error,
		Summary: "the policy document is not a valid IAM policy"}
}

func (malformed) Check(c *Check) {
	for _, d := range c.Subject.Docs {
		for _, p := range d.Policy.Problems {
			if !p.Unresolved {
				c.Report(p.Range, roles(d), "%s", p.Message)
			}
		}
	}
}
