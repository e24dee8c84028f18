package policyrules

// unreadGrant names resources that grant access by other means than a
// policy document (KMS grants, ACLs, layer permissions): the check does not
// evaluate them, and says so rather than passing in silence.
type unreadGrant struct{}

func (unreadGrant) Meta() Meta {
	return Meta{ID: "IAM013", Name: "unread-grant", Severity: Warning,
		Summary: "a resource grants access in a form policy-check does not evaluate"}
}

func (unreadGrant) Check(c *Check) {
	for _, u := range c.Subject.Unread {
		c.Report(u.Range, "", "%s is %s, which policy-check does not evaluate; review who it grants to by hand", u.Owner, u.What)
	}
}
