package policyrules

import (
	"regexp"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// eksOIDC checks trust policies for an EKS cluster's OIDC provider (IAM
// roles for service accounts): without a condition on the provider's :sub
// every service account in the cluster can assume the role
// (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html).
type eksOIDC struct{}

func (eksOIDC) Meta() Meta {
	return Meta{ID: "IAM012", Name: "eks-oidc-trust", Severity: Error,
		Summary: "an EKS OIDC trust does not pin the service account subject"}
}

// eksIssuer matches oidc.eks.REGION.amazonaws.com/id/ID in a provider ARN
// or a symbol standing for one.
var eksIssuer = regexp.MustCompile(`oidc\.eks\.|oidc_provider|oidc-provider/oidc\.eks`)

func (eksOIDC) Check(c *Check) {
	c.statements([]DocKind{Trust}, func(d *Doc, st *iampolicy.Statement) {
		if !st.IsAllow() {
			return
		}
		for _, p := range st.Principal {
			v := p.Value
			if p.Type != "Federated" || !eksIssuer.MatchString(v.Value) || strings.Contains(v.Value, githubIssuer) {
				continue
			}
			ok := false
			for _, cond := range st.Conditions {
				if strings.HasSuffix(strings.ToLower(cond.Key.Value), ":sub") && !strings.HasSuffix(cond.Operator.Value, "IfExists") {
					ok = true
					for _, val := range cond.Values {
						if val.Literal() && strings.Trim(val.Value, "*") == "" {
							c.Report(val.Range, roles(d), "EKS OIDC subject %q admits every service account; name system:serviceaccount:NAMESPACE:NAME", val.Value)
						}
					}
				}
			}
			if !ok {
				c.Report(v.Range, roles(d), "the EKS OIDC trust has no condition on the provider's :sub, so every service account in the cluster can assume the role; require StringEquals system:serviceaccount:NAMESPACE:NAME")
			}
		}
	})
}
