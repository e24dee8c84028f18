package workflowcheck

// oidc: configure-aws-credentials assumes a role with the job's OIDC token,
// which the job only gets with id-token: write.
type oidc struct{}

func (oidc) Name() string { return "oidc" }
func (oidc) Summary() string {
	return "a job assuming an AWS role through OIDC has id-token: write"
}

func (oidc) Job(c *Check, j *Job) {
	u := jobUses(c.Repo, j)["aws-actions/configure-aws-credentials"]
	if u == nil {
		return
	}
	if _, idt := Get(effectivePermissions(j), "id-token"); idt == nil || idt.Value != "write" {
		c.Report(j.Workflow.File, u.Line, "job %s assumes an AWS role through OIDC but lacks permissions id-token: write", j.Name.Value)
	}
}
