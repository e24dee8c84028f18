package policyrules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// doc parses a JSON policy of a kind, attached to role "r" for identity
// documents.
func doc(t *testing.T, kind DocKind, src string) *Doc {
	t.Helper()
	p, err := iampolicy.Parse([]byte(src), "p.json")
	if err != nil {
		t.Fatalf("fixture does not parse: %v", err)
	}
	d := &Doc{Owner: "aws_iam_role_policy.p", Kind: kind, Policy: p}
	if kind != Resource {
		d.Roles = []string{"r"}
	}
	return d
}

func subject(docs ...*Doc) *Subject {
	s := &Subject{Docs: docs}
	role := &Role{Address: "r"}
	for _, d := range docs {
		if d.Kind == Identity {
			role.Docs = append(role.Docs, d)
		}
	}
	s.Roles = []*Role{role}
	return s
}

// at renders findings of one rule as "line:col severity" for comparison.
func at(fs []Finding, rule string) []string {
	var out []string
	for _, f := range fs {
		if f.Rule == rule {
			out = append(out, fmt.Sprintf("%d:%d %s", f.Range.Start.Line, f.Range.Start.Column, f.Severity))
		}
	}
	return out
}

func allow(action, resource string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":%s,"Resource":%s}]}`, action, resource)
}

type ruleCase struct {
	name string
	kind DocKind
	docs []string
	want []string // "line:col severity" of the rule's findings
}

func runCases(t *testing.T, rule Rule, cases []ruleCase) {
	t.Helper()
	cat := iamcatalog.Default()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ds []*Doc
			for _, src := range tc.docs {
				ds = append(ds, doc(t, tc.kind, src))
			}
			got := at(Run(subject(ds...), cat, rule), rule.Meta().ID)
			// A want is "MARKER severity": the finding must sit at the first
			// occurrence of MARKER in the first document (line 1).
			var want []string
			for _, w := range tc.want {
				i := strings.LastIndexByte(w, ' ')
				col := strings.Index(tc.docs[0], w[:i])
				if col < 0 {
					t.Fatalf("marker %s not in the fixture", w[:i])
				}
				want = append(want, fmt.Sprintf("1:%d%s", col+1, w[i:]))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s findings at %v, want %v", rule.Meta().ID, got, want)
				for _, f := range Run(subject(ds...), cat, rule) {
					t.Logf("  %d:%d %s", f.Range.Start.Line, f.Range.Start.Column, f.Message)
				}
			}
		})
	}
}

func TestWildcardAction(t *testing.T) {
	runCases(t, wildcardAction{}, []ruleCase{
		{name: "exact actions pass", docs: []string{allow(`["dynamodb:GetItem","dynamodb:PutItem"]`, `"arn:aws:dynamodb:us-east-1:1:table/t"`)}},
		{name: "whole service fails", docs: []string{allow(`"dynamodb:*"`, `"arn:aws:dynamodb:us-east-1:1:table/t"`)}, want: []string{`"dynamodb:*" error`}},
		{name: "star fails", docs: []string{allow(`"*"`, `"*"`)}, want: []string{`"*" error`}},
		{name: "partial prefix, any case", docs: []string{allow(`"DynamoDB:get*"`, `"*"`)}, want: []string{`"DynamoDB:get*" error`}},
		{name: "suffix wildcard", docs: []string{allow(`"dynamodb:*Item"`, `"*"`)}, want: []string{`"dynamodb:*Item" error`}},
		{name: "single-character wildcard matching one action warns", docs: []string{allow(`"dynamodb:PutIte?"`, `"*"`)}, want: []string{`"dynamodb:PutIte?" warning`}},
		{name: "deny wildcard is fine", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}`}},
		{name: "partial deny still fails", docs: []string{
			allow(`"s3:*"`, `"*"`),
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}`,
		}, want: []string{`"s3:*" error`}},
		{name: "deny with narrower resource does not cancel", docs: []string{
			allow(`"sqs:*"`, `"*"`),
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:1:q"}]}`,
		}, want: []string{`"sqs:*" error`}},
		{name: "deny with condition does not cancel", docs: []string{
			allow(`"sqs:*"`, `"*"`),
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sqs:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`,
		}, want: []string{`"sqs:*" error`}},
		{name: "full unconditional deny cancels", docs: []string{
			allow(`"sqs:*"`, `"*"`),
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"SQS:*","Resource":"*"}]}`,
		}},
	})
}

func TestNotAction(t *testing.T) {
	mfa := `{"Version":"2012-10-17","Statement":[{"Sid":"DenyWithoutMFA","Effect":"Deny","NotAction":["iam:ListMFADevices","sts:GetSessionToken"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}`
	runCases(t, notAction{}, []ruleCase{
		{name: "NotAction with Deny and MFA passes", docs: []string{mfa}},
		{name: "Allow with NotAction fails", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`}, want: []string{`"iam:*" error`}},
		{name: "Allow with NotResource fails", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","NotResource":["arn:aws:s3:::secret/*"]}]}`}, want: []string{`"arn:aws:s3:::secret/*" error`}},
		{name: "Allow with NotPrincipal fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"sqs:SendMessage","Resource":"*"}]}`}, want: []string{`"arn:aws:iam::1:root" error`}},
	})
}

func TestResourceStar(t *testing.T) {
	runCases(t, resourceStar{}, []ruleCase{
		{name: "scopable action on star fails", docs: []string{allow(`"dynamodb:GetItem"`, `"*"`)}, want: []string{`"*" error`}},
		{name: "star-only action passes", docs: []string{allow(`["ecr:GetAuthorizationToken","sts:GetCallerIdentity"]`, `"*"`)}},
		{name: "mixed star-only and scopable fails", docs: []string{allow(`["ecr:GetAuthorizationToken","ecr:BatchGetImage"]`, `["*"]`)}, want: []string{`"*" error`}},
		{name: "effectively star: every table", docs: []string{allow(`"dynamodb:GetItem"`, `"arn:aws:dynamodb:*:*:table/*"`)}, want: []string{`"arn:aws:dynamodb:*:*:table/*" error`}},
		{name: "effectively star: every bucket", docs: []string{allow(`"s3:GetObject"`, `"arn:aws:s3:::*"`)}, want: []string{`"arn:aws:s3:::*" error`}},
		{name: "object ARNs under a bucket pass", docs: []string{allow(`"s3:GetObject"`, `"arn:aws:s3:::my-bucket/*"`)}},
		{name: "log streams of one group pass", docs: []string{allow(`["logs:CreateLogStream","logs:PutLogEvents"]`, `"arn:aws:logs:us-east-1:1:log-group:app:*"`)}},
		{name: "every log group fails", docs: []string{allow(`"logs:PutLogEvents"`, `"arn:aws:logs:us-east-1:1:log-group:*"`)}, want: []string{`"arn:aws:logs:us-east-1:1:log-group:*" error`}},
		{name: "cluster condition scopes ListTasks", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:ListTasks","Resource":"*","Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:1:cluster/c"}}}]}`}},
		{name: "an unrelated condition does not scope", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`}, want: []string{`"*" error`}},
		{name: "request tag scopes RunInstances", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:RunInstances","ec2:CreateFleet"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/karpenter.sh/nodepool":"default"}}}]}`}},
		{name: "service name scopes CreateServiceLinkedRole", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*","Condition":{"StringEquals":{"iam:AWSServiceName":"eks.amazonaws.com"}}}]}`}},
		{name: "a key the action does not support does not scope", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*","Condition":{"StringEquals":{"iam:AWSServiceName":"eks.amazonaws.com"}}}]}`}, want: []string{`"*" error`}},
		{name: "a tag condition with value * does not scope", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringLike":{"aws:RequestTag/team":"*"}}}]}`}, want: []string{`"*" error`}},
		{name: "a required tag (Null false) scopes CreateLoadBalancer", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:CreateLoadBalancer","Resource":"*","Condition":{"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"false"}}}]}`}},
		{name: "a tag required absent (Null true) does not scope", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticloadbalancing:CreateLoadBalancer","Resource":"*","Condition":{"Null":{"aws:RequestTag/elbv2.k8s.aws/cluster":"true"}}}]}`}, want: []string{`"*" error`}},
		{name: "an IfExists tag condition does not scope", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:RequestTag/team":"a"}}}]}`}, want: []string{`"*" error`}},
	})
}

func TestPassRole(t *testing.T) {
	cond := `,"Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}`
	runCases(t, passRole{}, []ruleCase{
		{name: "scoped with condition passes", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::1:role/task"` + cond + `}]}`}},
		{name: "star resource fails", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"` + cond + `}]}`}, want: []string{`"*" error`}},
		{name: "no condition fails", docs: []string{allow(`"iam:PassRole"`, `"arn:aws:iam::1:role/task"`)}, want: []string{`"iam:PassRole" error`}},
		{name: "through a wildcard, case-insensitive", docs: []string{allow(`"IAM:Pass*"`, `"arn:aws:iam::1:role/task"`)}, want: []string{`"IAM:Pass*" error`}},
	})
}

func TestPublicPrincipal(t *testing.T) {
	runCases(t, publicPrincipal{}, []ruleCase{
		{name: "named principal passes", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"sqs:SendMessage","Resource":"*"}]}`}},
		{name: "star principal fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}`}, want: []string{`"*" error`}},
		{name: "AWS star fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"ecr:BatchGetImage","Resource":"*"}]}`}, want: []string{`"*" error`}},
		{name: "star narrowed by source ARN passes", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:1:t"}}}]}`}},
		{name: "star with an unrelated condition fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`}, want: []string{`"*" error`}},
		{name: "star narrowed by a condition whose value is * fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"StringLike":{"aws:SourceAccount":"*"}}}]}`}, want: []string{`"*" error`}},
		{name: "star narrowed by an IfExists operator fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"ArnEqualsIfExists":{"aws:SourceArn":"arn:aws:sns:us-east-1:1:t"}}}]}`}, want: []string{`"*" error`}},
		{name: "star narrowed by a negated operator fails", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceAccount":"1"}}}]}`}, want: []string{`"*" error`}},
		{name: "star narrowed by org id passes", kind: Resource, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"ecr:BatchGetImage","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}]}`}},
	})
}

const ghFed = `"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity"`

func ghTrust(cond string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + ghFed + `,"Condition":` + cond + `}]}`
}

func TestGitHubOIDC(t *testing.T) {
	aud := `"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"`
	runCases(t, githubOIDC{}, []ruleCase{
		{name: "branch subject passes", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/r:ref:refs/heads/main"}}`)}},
		{name: "environment subject passes", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `,"token.actions.githubusercontent.com:sub":"repo:o/r:environment:production"}}`)}},
		{name: "wildcard after a branch prefix passes", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/r:ref:refs/heads/release-*"}}`)}},
		{name: "no sub fails", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `}}`)}, want: []string{`"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" error`}},
		{name: "sub star fails", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `},"StringLike":{"token.actions.githubusercontent.com:sub":"*"}}`)}, want: []string{`"*" error`}},
		{name: "sub repo:* fails", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"}}`)}, want: []string{`"repo:*" error`}},
		{name: "sub any repository of an owner fails", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/*"}}`)}, want: []string{`"repo:o/*" error`}},
		{name: "sub any ref of a repository fails", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{` + aud + `},"StringLike":{"token.actions.githubusercontent.com:sub":"repo:o/r:*"}}`)}, want: []string{`"repo:o/r:*" error`}},
		{name: "no aud fails", kind: Trust, docs: []string{ghTrust(`{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:o/r:environment:p"}}`)}, want: []string{`"arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com" error`}},
		{name: "aud like fails", kind: Trust, docs: []string{ghTrust(`{"StringLike":{"token.actions.githubusercontent.com:aud":"sts.*","token.actions.githubusercontent.com:sub":"repo:o/r:environment:p"}}`)}, want: []string{`"sts.*" error`}},
	})
}

func TestEKSOIDC(t *testing.T) {
	fed := `"Principal":{"Federated":"arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"},"Action":"sts:AssumeRoleWithWebIdentity"`
	runCases(t, eksOIDC{}, []ruleCase{
		{name: "service account subject passes", kind: Trust, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + fed + `,"Condition":{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:kube-system:aws-node"}}}]}`}},
		{name: "no condition fails", kind: Trust, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + fed + `}]}`}, want: []string{`"arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC" error`}},
		{name: "aud only fails", kind: Trust, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + fed + `,"Condition":{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:aud":"sts.amazonaws.com"}}}]}`}, want: []string{`"arn:aws:iam::1:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC" error`}},
		{name: "sub star fails", kind: Trust, docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` + fed + `,"Condition":{"StringLike":{"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"*"}}}]}`}, want: []string{`"*" error`}},
	})
}

func TestUnknownAction(t *testing.T) {
	runCases(t, unknownAction{}, []ruleCase{
		{name: "known actions in any case pass", docs: []string{allow(`["DYNAMODB:getitem","sqs:SendMessage"]`, `"*"`)}},
		{name: "typo fails", docs: []string{allow(`"dynamodb:GetItems"`, `"*"`)}, want: []string{`"dynamodb:GetItems" error`}},
		{name: "unknown service fails", docs: []string{allow(`"dynamo:GetItem"`, `"*"`)}, want: []string{`"dynamo:GetItem" error`}},
		{name: "wildcard matching nothing fails", docs: []string{allow(`"sqs:Frobnicate*"`, `"*"`)}, want: []string{`"sqs:Frobnicate*" error`}},
	})
}

func TestMalformed(t *testing.T) {
	runCases(t, malformed{}, []ruleCase{
		{name: "well-formed passes", docs: []string{allow(`"sqs:SendMessage"`, `"*"`)}},
		{name: "lowercase Effect fails", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"sqs:SendMessage","Resource":"*"}]}`}, want: []string{`"allow" error`}},
		{name: "missing Action fails", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`}, want: []string{`{"Effect" error`}},
		{name: "lowercase key fails", docs: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","action":"sqs:SendMessage","Action":"sqs:SendMessage","Resource":"*"}]}`}, want: []string{`"action" error`}},
		{name: "action without prefix fails", docs: []string{allow(`"SendMessage"`, `"*"`)}, want: []string{`"SendMessage" error`}},
		{name: "bad version fails", docs: []string{`{"Version":"2012-10-18","Statement":[]}`}, want: []string{`"2012-10-18" error`}},
	})
}

func TestUnresolved(t *testing.T) {
	cat := iamcatalog.Default()
	unknownAction := iampolicy.Str{Value: "var.actions", Unknown: true}
	unknownAction.Range.Start.Line = 7
	partial := iampolicy.Str{Value: "arn:aws:s3:::${?var.bucket}/*", Symbols: []string{"?var.bucket"}}
	partial.Range.Start.Line = 8
	identity := iampolicy.Str{Value: "${aws_s3_bucket.b.arn}/*", Symbols: []string{"aws_s3_bucket.b.arn"}}
	identity.Range.Start.Line = 9
	st := iampolicy.Statement{Effect: iampolicy.Str{Value: "Allow"}, HasEffect: true, HasAction: true, HasResource: true,
		Action: []iampolicy.Str{unknownAction, {Value: "s3:GetObject"}}, Resource: []iampolicy.Str{partial, identity}}
	d := &Doc{Kind: Identity, Roles: []string{"r"}, Policy: iampolicy.Policy{Statements: []iampolicy.Statement{st}}}
	s := subject(d)
	s.Problems = []Problem{{Message: "cannot attribute", Range: identity.Range}}
	got := at(Run(s, cat, unresolved{}), "IAM008")
	want := []string{"7:0 error", "8:0 error", "9:0 error"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("unresolved findings at %v, want %v (the resource naming a bucket's ARN is an identity, not unknown; the problem is)", got, want)
	}
	clean := at(Run(subject(doc(t, Identity, allow(`"s3:GetObject"`, `"arn:aws:s3:::b/*"`))), cat, unresolved{}), "IAM008")
	if len(clean) != 0 {
		t.Errorf("resolved policy reported unresolved at %v", clean)
	}
}

func TestContract(t *testing.T) {
	cat := iamcatalog.Default()
	str := func(v string, line int) iampolicy.Str {
		s := iampolicy.Str{Value: v}
		s.Range.Filename = "policies/c.hcl"
		s.Range.Start.Line = line
		return s
	}
	contract := []ContractRole{{Address: "r", Allows: []ContractAllow{
		{Actions: []iampolicy.Str{str("dynamodb:GetItem", 1), str("dynamodb:PutItem", 2)}, Resources: []iampolicy.Str{str("arn:aws:dynamodb:us-east-1:1:table/t", 3)}},
		{Actions: []iampolicy.Str{str("ecr:GetAuthorizationToken", 4)}, Resources: []iampolicy.Str{str("*", 5)}},
	}}}
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{name: "exact match passes", doc: `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["dynamodb:getitem","DynamoDB:PutItem"],"Resource":"arn:aws:dynamodb:us-east-1:1:table/t"},
{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`},
		{name: "granted but not in contract", doc: `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem","dynamodb:DeleteItem"],"Resource":"arn:aws:dynamodb:us-east-1:1:table/t"},
{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`, want: []string{"p.json:2:67"}},
		{name: "wrong resource", doc: `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem"],"Resource":"arn:aws:dynamodb:us-east-1:1:table/other"},
{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`, want: []string{"p.json:2:79", "policies/c.hcl:1:0", "policies/c.hcl:2:0"}},
		{name: "in contract but not granted", doc: `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["dynamodb:GetItem"],"Resource":"arn:aws:dynamodb:us-east-1:1:table/t"},
{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`, want: []string{"policies/c.hcl:2:0"}},
		{name: "star-only action on star is still bound by the contract", doc: `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem"],"Resource":"arn:aws:dynamodb:us-east-1:1:table/t"},
{"Effect":"Allow","Action":["ecr:GetAuthorizationToken","sts:GetCallerIdentity"],"Resource":"*"}]}`, want: []string{"p.json:3:57"}},
		{name: "wildcard expands against the contract", doc: `{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutIte?"],"Resource":"arn:aws:dynamodb:us-east-1:1:table/t"},
{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := subject(doc(t, Identity, tc.doc))
			s.Contract = contract
			var got []string
			for _, f := range Run(s, cat, contractRule{}) {
				if f.Severity == Error {
					got = append(got, fmt.Sprintf("%s:%d:%d", f.Range.Filename, f.Range.Start.Line, f.Range.Start.Column))
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("contract errors at %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("role missing from Terraform and role missing from contract", func(t *testing.T) {
		s := subject(doc(t, Identity, allow(`"sqs:SendMessage"`, `"*"`)))
		s.Contract = []ContractRole{{Address: "other", Range: str("", 9).Range}}
		fs := Run(s, cat, contractRule{})
		if len(fs) != 2 || fs[0].Severity != Warning && fs[1].Severity != Warning {
			t.Fatalf("want an error for the unknown contract role and a warning for the uncontracted role, got %+v", fs)
		}
	})
}

func TestCode(t *testing.T) {
	cat := iamcatalog.Default()
	call := func(action, op string, line int) CodeCall {
		c := CodeCall{Action: action, Operation: op}
		c.Range.Filename = "main.go"
		c.Range.Start.Line = line
		return c
	}
	s := subject(doc(t, Identity, allow(`["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:PurgeQueue"]`, `"arn:aws:sqs:us-east-1:1:q"`)))
	s.Contract = []ContractRole{{Address: "r", Code: "worker"}}
	s.Code = map[string][]CodeCall{"worker": {
		call("sqs:ReceiveMessage", "ReceiveMessage", 10),
		call("sqs:DeleteMessage", "DeleteMessageBatch", 11),
		call("sqs:ChangeMessageVisibility", "ChangeMessageVisibility", 12),
	}}
	var got []string
	for _, f := range Run(s, cat, codeRule{}) {
		got = append(got, fmt.Sprintf("%s:%d %s", f.Range.Filename, f.Range.Start.Line, f.Severity))
	}
	want := []string{"main.go:12 error", "p.json:1 warning"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("code findings %v, want %v (missing ChangeMessageVisibility is an error at the call; unused PurgeQueue a warning at the grant)", got, want)
	}
	s.Code = map[string][]CodeCall{}
	if fs := Run(s, cat, codeRule{}); len(fs) != 1 || fs[0].Severity != Error {
		t.Errorf("a contract service without code must be an error, got %+v", fs)
	}
}

func TestEveryRuleHasAnIDAndSeverity(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range All() {
		m := r.Meta()
		if m.ID == "" || m.Name == "" || m.Summary == "" || (m.Severity != Error && m.Severity != Warning) || seen[m.ID] {
			t.Errorf("rule %+v lacks an id, name, summary or severity, or repeats an id", m)
		}
		seen[m.ID] = true
	}
}
