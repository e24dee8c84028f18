# METADATA
# title: IAM policy allows wildcard actions
# description: An Allow statement grants actions by wildcard ("*", "s3:*", "dynamodb:Get*").
# scope: package
# schemas:
#   - input: schema["cloud"]
# custom:
#   id: CNV-IAM-001
#   avd_id: CNV-IAM-001
#   provider: aws
#   service: iam
#   severity: HIGH
#   short_code: iam-wildcard-action
#   recommended_action: List the actions the role needs.
#   input:
#     selector:
#       - type: cloud
#         subtypes:
#           - service: iam
#             provider: aws
package user.aws.iam.wildcards

import rego.v1

statements(v) := v.Statement if is_array(v.Statement)

statements(v) := [v.Statement] if is_object(v.Statement)

actions(st) := st.Action if is_array(st.Action)

actions(st) := [st.Action] if is_string(st.Action)

wildcard(doc) if {
	value := json.unmarshal(doc)
	some st in statements(value)
	st.Effect == "Allow"
	some a in actions(st)
	contains(a, "*")
}

deny contains res if {
	some policy in input.aws.iam.policies
	wildcard(policy.document.value)
	res := result.new("IAM policy allows wildcard actions", policy.document)
}

deny contains res if {
	some kind in ["roles", "users", "groups"]
	some holder in input.aws.iam[kind]
	some policy in holder.policies
	wildcard(policy.document.value)
	res := result.new("IAM policy attached to a role, user or group allows wildcard actions", policy.document)
}
