package policycheck

import "testing"

// A role inside a for_each module instance keeps its instance key (the
// contract and the HCL evaluator name module.service["api"]...), and only
// the resource's own key is dropped.
func TestStripIndexKeepsModuleInstanceKeys(t *testing.T) {
	for in, want := range map[string]string{
		`module.api.aws_iam_role.task`:                     `module.api.aws_iam_role.task`,
		`module.service["api"].aws_iam_role.task`:          `module.service["api"].aws_iam_role.task`,
		`module.service["a.b"].aws_iam_role.task`:          `module.service["a.b"].aws_iam_role.task`,
		`module.service["api"].aws_iam_policy.extra[0]`:    `module.service["api"].aws_iam_policy.extra`,
		`module.outer[1].module.inner["x"].aws_iam_role.r`: `module.outer[1].module.inner["x"].aws_iam_role.r`,
		`aws_iam_role.ci["deploy"]`:                        `aws_iam_role.ci`,
	} {
		if got := stripIndex(in); got != want {
			t.Errorf("stripIndex(%s) = %s, want %s", in, got, want)
		}
	}
}
