package tfeval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Document is one policy document found in the configuration.
type Document struct {
	// Owner is the address of the resource that holds the document, e.g.
	// module.api.aws_iam_role_policy.task.
	Owner string
	// Attr is the argument it came from: policy, inline_policy,
	// assume_role_policy, policy_arn (an AWS-managed policy).
	Attr string
	// Resource marks a resource-based policy (queue, repository, bucket,
	// topic, key) and Trust a role's trust policy: principals matter there.
	Resource bool
	Trust    bool
	Managed  string // the AWS-managed policy ARN, if any
	Policy   iampolicy.Policy
	Range    hcl.Range
}

// Role is an IAM role (or user or group) and every document that grants
// to it.
type Role struct {
	Address   string // module.api.aws_iam_role.task
	Kind      string // role, user, group
	Name      Value
	Range     hcl.Range
	Documents []*Document
	Trust     *Document
}

// Problem is something the evaluator could not resolve and that decides a
// verdict: a policy it cannot link to a role, a managed policy it does not
// know, a document it cannot read.
type Problem struct {
	Range   hcl.Range
	Address string
	Message string
	// Warn marks a gap the user cannot close in their configuration (an
	// AWS-managed policy outside the vendored set): reported, not blocking.
	Warn bool
}

// Unread is a resource that grants access in a form not read.
type Unread struct {
	Address, Type, What string
	Range               hcl.Range
}

// Result is what a root module grants.
type Result struct {
	// Unread are grants in resources that are not policy documents.
	Unread    []Unread
	Dir       string
	Roles     []*Role
	Documents []*Document
	Problems  []Problem
	Root      *Scope
	Sources   *Sources
}

// Role returns the role with an address.
func (r *Result) Role(addr string) *Role {
	for _, x := range r.Roles {
		if x.Address == addr {
			return x
		}
	}
	return nil
}

// Options are the inputs of an evaluation beyond the directory.
type Options struct {
	VarFiles []string
	// ModulesDir is a .terraform/modules directory (holding modules.json)
	// to read registry and git modules from; default: dir/.terraform/modules.
	ModulesDir string
}

// Evaluate reads the root module in dir (with terraform.tfvars and
// *.auto.tfvars, plus any extra var files) and computes every role's
// effective policy. An error means input that cannot be parsed.
func Evaluate(dir string, varFiles ...string) (*Result, error) {
	return EvaluateWith(dir, Options{VarFiles: varFiles})
}

// EvaluateWith is Evaluate with every option.
func EvaluateWith(dir string, opt Options) (*Result, error) {
	varFiles := opt.VarFiles
	src := NewSources()
	mod, err := src.LoadModule(dir)
	if err != nil {
		return nil, err
	}
	if err := src.readInstalled(dir, opt.ModulesDir); err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.auto.tfvars"))
	if _, err := os.Stat(filepath.Join(dir, "terraform.tfvars")); err == nil {
		files = append([]string{filepath.Join(dir, "terraform.tfvars")}, files...)
	}
	files = append(files, varFiles...)
	tfvars := map[string]Value{}
	empty := &Scope{src: src, Mod: &Module{Dir: dir}, locals: map[string]*Value{}, busy: map[string]bool{}, kids: map[string]*Scope{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading var file %s: %w", f, err)
		}
		body, err := src.ParseFile(f, b)
		if err != nil {
			return nil, err
		}
		for name, a := range body.Attributes {
			tfvars[name] = empty.eval(a.Expr, nil, 0)
		}
	}
	root := NewRoot(src, mod, tfvars)
	c := &collector{res: &Result{Dir: dir, Root: root, Sources: src}, policies: map[string]*Document{}}
	if err := c.walk(root); err != nil {
		return nil, err
	}
	c.link()
	c.res.Problems = append(c.res.Problems, src.problems...)
	return c.res, nil
}

type pending struct {
	role  Value
	doc   *Document
	arn   Value
	owner string
	rng   hcl.Range
}

type collector struct {
	res      *Result
	policies map[string]*Document // aws_iam_policy address -> document
	links    []pending
	attach   []pending
}

// instance is one expanded count/for_each instance.
type instance struct {
	key string
	ctx *Ctx
}

func (s *Scope) instances(body *hclsyntax.Body) []instance {
	if a, ok := body.Attributes["count"]; ok {
		v := s.eval(a.Expr, nil, 0)
		n, known := v.Number()
		if v.Kind == KList && v.Alt {
			// both branches: take the larger count, fail closed
			for _, alt := range v.List {
				if f, ok := alt.Number(); ok && f > n {
					n, known = f, true
				}
			}
		}
		if !known {
			idx := unknown("count.index", a.Expr.Range())
			return []instance{{key: "[?]", ctx: (&Ctx{}).with("count", objectOf(map[string]Value{"index": idx}, idx.Range))}}
		}
		var out []instance
		for i := 0; i < int(n) && i < 1000; i++ {
			idx := Value{Kind: KNumber, S: itoa(i), Range: a.Expr.Range()}
			out = append(out, instance{key: "[" + itoa(i) + "]", ctx: (&Ctx{}).with("count", objectOf(map[string]Value{"index": idx}, idx.Range))})
		}
		return out
	}
	if a, ok := body.Attributes["for_each"]; ok {
		var out []instance
		for _, kv := range pairs(s.eval(a.Expr, nil, 0)) {
			key := "[?]"
			if kv[0].IsKnownString() || kv[0].Kind == KNumber {
				key = fmt.Sprintf("[%q]", kv[0].S)
			}
			out = append(out, instance{key: key, ctx: (&Ctx{}).with("each", objectOf(map[string]Value{"key": kv[0], "value": kv[1]}, kv[1].Range))})
		}
		return out
	}
	return []instance{{}}
}

// resourcePolicyTypes are the aws provider's resource types that hold a
// resource-based policy document, and the argument that holds it
// (https://registry.terraform.io/providers/hashicorp/aws/latest/docs).
var resourcePolicyTypes = map[string]string{
	"aws_ses_identity_policy":                        "policy",
	"aws_sqs_queue_policy":                           "policy",
	"aws_sqs_queue":                                  "policy",
	"aws_ecr_repository_policy":                      "policy",
	"aws_ecr_registry_policy":                        "policy",
	"aws_ecrpublic_repository_policy":                "policy",
	"aws_s3_bucket_policy":                           "policy",
	"aws_s3_bucket":                                  "policy",
	"aws_s3_access_point":                            "policy",
	"aws_s3control_access_point_policy":              "policy",
	"aws_s3control_bucket_policy":                    "policy",
	"aws_s3tables_table_bucket_policy":               "resource_policy",
	"aws_sns_topic_policy":                           "policy",
	"aws_sns_topic":                                  "policy",
	"aws_kms_key":                                    "policy",
	"aws_kms_key_policy":                             "policy",
	"aws_kms_replica_key":                            "policy",
	"aws_kms_external_key":                           "policy",
	"aws_secretsmanager_secret":                      "policy",
	"aws_secretsmanager_secret_policy":               "policy",
	"aws_cloudwatch_log_resource_policy":             "policy_document",
	"aws_cloudwatch_log_destination_policy":          "access_policy",
	"aws_cloudwatch_event_bus_policy":                "policy",
	"aws_opensearch_domain":                          "access_policies",
	"aws_opensearch_domain_policy":                   "access_policies",
	"aws_elasticsearch_domain":                       "access_policies",
	"aws_elasticsearch_domain_policy":                "access_policies",
	"aws_api_gateway_rest_api":                       "policy",
	"aws_api_gateway_rest_api_policy":                "policy",
	"aws_efs_file_system_policy":                     "policy",
	"aws_backup_vault_policy":                        "policy",
	"aws_glacier_vault":                              "access_policy",
	"aws_glue_resource_policy":                       "policy",
	"aws_dynamodb_resource_policy":                   "policy",
	"aws_kinesis_resource_policy":                    "policy",
	"aws_codeartifact_domain_permissions_policy":     "policy_document",
	"aws_codeartifact_repository_permissions_policy": "policy_document",
	"aws_media_store_container_policy":               "policy",
	"aws_networkfirewall_resource_policy":            "policy",
	"aws_schemas_registry_policy":                    "policy",
	"aws_vpc_endpoint":                               "policy",
	"aws_vpc_endpoint_policy":                        "policy",
	"aws_ssmcontacts_contact_policy":                 "policy",
	"aws_organizations_resource_policy":              "content",
	"aws_redshiftserverless_resource_policy":         "policy",
	"aws_redshift_resource_policy":                   "policy",
	"aws_oam_sink_policy":                            "policy",
	"aws_vpclattice_resource_policy":                 "policy",
	"aws_vpclattice_auth_policy":                     "policy",
	"aws_verifiedaccess_endpoint":                    "policy_document",
	"aws_sagemaker_model_package_group_policy":       "resource_policy",
	"aws_xray_resource_policy":                       "policy_document",
}

// unreadGrants are resources that grant access by other means than a
// policy document; they are not read, and a finding says so.
var unreadGrants = map[string]string{
	"aws_kms_grant":                                  "a KMS grant",
	"aws_lambda_layer_version_permission":            "a Lambda layer permission",
	"aws_s3_bucket_acl":                              "an S3 ACL",
	"aws_ram_principal_association":                  "a RAM share with a principal",
	"aws_lakeformation_permissions":                  "Lake Formation permissions",
	"aws_s3control_multi_region_access_point_policy": "a multi-Region access point policy",
	"aws_licensemanager_grant":                       "a License Manager grant",
}

func (c *collector) walk(s *Scope) error {
	names := make([]string, 0, len(s.Mod.Calls))
	for n := range s.Mod.Calls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, key := range s.Mod.Order {
		b := s.Mod.Resources[key]
		typ := b.Labels[0]
		for _, in := range s.instances(b.Body) {
			addr := s.Path + key + in.key
			c.resource(s, b, typ, addr, in.ctx)
		}
	}
	for _, n := range names {
		b := s.Mod.Calls[n]
		for _, in := range s.instances(b.Body) {
			kid := s.Child(n, in.key, in.ctx)
			if kid == nil {
				continue
			}
			if err := c.walk(kid); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *collector) docs(s *Scope, owner, attr string, v Value) []*Document {
	var out []*Document
	for _, n := range documentNodes(s.src, v) {
		out = append(out, &Document{Owner: owner, Attr: attr, Policy: iampolicy.FromNode(n), Range: v.Range})
	}
	return out
}

func (c *collector) resource(s *Scope, b *hclsyntax.Block, typ, addr string, ctx *Ctx) {
	body := b.Body
	switch typ {
	case "aws_iam_role", "aws_iam_user", "aws_iam_group":
		role := &Role{Address: addr, Kind: strings.TrimPrefix(typ, "aws_iam_"), Range: b.DefRange()}
		role.Name, _ = s.attr(body, "name", ctx, 0)
		c.res.Roles = append(c.res.Roles, role)
		for _, ib := range s.blocks(body, "inline_policy", ctx, 0) {
			if v, ok := s.attr(ib.body, "policy", ib.ctx, 0); ok {
				for _, d := range c.docs(s, addr, "inline_policy", v) {
					role.Documents = append(role.Documents, d)
					c.res.Documents = append(c.res.Documents, d)
				}
			}
		}
		if v, ok := s.attr(body, "assume_role_policy", ctx, 0); ok {
			for _, d := range c.docs(s, addr, "assume_role_policy", v) {
				d.Trust = true
				role.Trust = d
				c.res.Documents = append(c.res.Documents, d)
			}
		}
		if v, ok := s.attr(body, "managed_policy_arns", ctx, 0); ok {
			for _, arn := range v.Elements() {
				c.attach = append(c.attach, pending{role: symbol(addr+".name", b.DefRange()), arn: arn, owner: addr, rng: arn.Range})
			}
		}
	case "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy":
		field := map[string]string{"aws_iam_role_policy": "role", "aws_iam_user_policy": "user", "aws_iam_group_policy": "group"}[typ]
		pv, ok := s.attr(body, "policy", ctx, 0)
		if !ok {
			return
		}
		rv, _ := s.attr(body, field, ctx, 0)
		for _, d := range c.docs(s, addr, "policy", pv) {
			c.res.Documents = append(c.res.Documents, d)
			c.links = append(c.links, pending{role: rv, doc: d, owner: addr, rng: rv.Range})
		}
	case "aws_iam_policy":
		pv, ok := s.attr(body, "policy", ctx, 0)
		if !ok {
			return
		}
		ds := c.docs(s, addr, "policy", pv)
		for _, d := range ds {
			c.res.Documents = append(c.res.Documents, d)
		}
		if len(ds) > 0 {
			c.policies[addr] = ds[0]
			for i, d := range ds[1:] {
				c.policies[fmt.Sprintf("%s#%d", addr, i+1)] = d
			}
		}
	case "aws_iam_role_policy_attachment", "aws_iam_user_policy_attachment", "aws_iam_group_policy_attachment":
		field := map[string]string{"aws_iam_role_policy_attachment": "role", "aws_iam_user_policy_attachment": "user", "aws_iam_group_policy_attachment": "group"}[typ]
		rv, _ := s.attr(body, field, ctx, 0)
		arn, _ := s.attr(body, "policy_arn", ctx, 0)
		c.attach = append(c.attach, pending{role: rv, arn: arn, owner: addr, rng: arn.Range})
	case "aws_iam_policy_attachment":
		arn, _ := s.attr(body, "policy_arn", ctx, 0)
		for _, field := range []string{"roles", "users", "groups"} {
			if rv, ok := s.attr(body, field, ctx, 0); ok {
				for _, r := range rv.Elements() {
					c.attach = append(c.attach, pending{role: r, arn: arn, owner: addr, rng: arn.Range})
				}
			}
		}
	case "aws_iam_role_policy_attachments_exclusive":
		rv, _ := s.attr(body, "role_name", ctx, 0)
		arns, _ := s.attr(body, "policy_arns", ctx, 0)
		for _, arn := range arns.Elements() {
			c.attach = append(c.attach, pending{role: rv, arn: arn, owner: addr, rng: arn.Range})
		}
	}
	if what := unreadGrants[typ]; what != "" {
		c.res.Unread = append(c.res.Unread, Unread{Address: addr, Type: typ, What: what, Range: b.DefRange()})
	}
	if typ == "aws_lambda_permission" {
		c.lambdaPermission(s, body, addr, ctx)
	}
	if attr, ok := resourcePolicyTypes[typ]; ok && attr != "" {
		if v, ok := s.attr(body, attr, ctx, 0); ok && v.Kind != KNull {
			for _, d := range c.docs(s, addr, attr, v) {
				d.Resource = true
				c.res.Documents = append(c.res.Documents, d)
			}
		}
	}
}

// findRole resolves a role reference: a symbol naming the role resource
// (aws_iam_role.task.name / .id / .arn) or the role's name.
func (c *collector) findRole(v Value) *Role {
	if v.Kind == KList && v.Alt {
		// either branch names the role: a role name or its computed name
		for _, a := range v.List {
			if r := c.findRole(a); r != nil {
				return r
			}
		}
		return nil
	}
	if sym, ok := v.PureSymbol(); ok {
		if i := strings.LastIndex(sym, "."); i > 0 {
			if r := c.res.Role(sym[:i]); r != nil {
				return r
			}
		}
	}
	if v.Kind != KString {
		return nil
	}
	for _, r := range c.res.Roles {
		if r.Name.Kind == KString && r.Name.S == v.S {
			return r
		}
		// an ARN ending in the role's name
		if r.Name.Kind == KString && r.Name.S != "" && strings.HasSuffix(v.S, ":role/"+r.Name.S) {
			return r
		}
	}
	return nil
}

func (c *collector) link() {
	for _, p := range c.links {
		r := c.findRole(p.role)
		if r == nil {
			c.problem(p, "%s grants to %s, which is not a role, user or group in this configuration; its grants cannot be attributed", p.owner, show(p.role))
			continue
		}
		r.Documents = append(r.Documents, p.doc)
	}
	for _, p := range c.attach {
		r := c.findRole(p.role)
		if r == nil {
			c.problem(p, "%s attaches a policy to %s, which is not a role, user or group in this configuration", p.owner, show(p.role))
			continue
		}
		if sym, ok := p.arn.PureSymbol(); ok && strings.HasSuffix(sym, ".arn") {
			addr := strings.TrimSuffix(sym, ".arn")
			if d, ok := c.policies[addr]; ok {
				r.Documents = append(r.Documents, d)
				for i := 1; ; i++ {
					d, ok := c.policies[fmt.Sprintf("%s#%d", addr, i)]
					if !ok {
						break
					}
					r.Documents = append(r.Documents, d)
				}
				continue
			}
		}
		if p.arn.Kind == KString {
			if n, ok := managedPolicy(p.arn.S, p.arn.Range); ok {
				d := &Document{Owner: p.owner, Attr: "policy_arn", Managed: p.arn.S, Policy: iampolicy.FromNode(n), Range: p.arn.Range}
				r.Documents = append(r.Documents, d)
				c.res.Documents = append(c.res.Documents, d)
				continue
			}
		}
		if p.arn.Kind == KString && isAWSManaged(p.arn.S) {
			c.res.Problems = append(c.res.Problems, Problem{Range: p.rng, Address: p.owner, Warn: true,
				Message: fmt.Sprintf("AWS-managed policy %s is not in the vendored set, so what it grants to %s could not be checked", p.arn.S[strings.LastIndex(p.arn.S, "/")+1:], r.Address)})
			continue
		}
		c.problem(p, "%s attaches policy %s to %s, and its statements are unknown (not an aws_iam_policy in this configuration); the role's grants cannot be checked", p.owner, show(p.arn), r.Address)
	}
}

// problem records, at p's place, why p's grant could not be attributed.
func (c *collector) problem(p pending, format string, args ...any) {
	c.res.Problems = append(c.res.Problems, Problem{Range: p.rng, Address: p.owner, Message: fmt.Sprintf(format, args...)})
}

func show(v Value) string {
	switch v.Kind {
	case KString:
		return fmt.Sprintf("%q", v.S)
	case KUnknown:
		return v.S
	}
	return describe(v)
}

// lambdaPermission reads an aws_lambda_permission as the statement it adds
// to the function's resource policy
// (https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html):
// principal, action, the function, and source_arn, source_account and
// principal_org_id as the conditions Lambda writes for them.
func (c *collector) lambdaPermission(s *Scope, body *hclsyntax.Body, addr string, ctx *Ctx) {
	at := func(name string) (Value, hcl.Range, bool) {
		v, ok := s.attr(body, name, ctx, 0)
		if !ok || v.Kind == KNull {
			return Value{}, hcl.Range{}, false
		}
		return v, body.Attributes[name].NameRange, true
	}
	field := func(k string, kr hcl.Range, v iampolicy.Node) iampolicy.Field {
		return iampolicy.Field{Key: iampolicy.Str{Value: k, Range: kr}, Value: v}
	}
	lit := func(v string, r hcl.Range) iampolicy.Node {
		return iampolicy.Node{Kind: iampolicy.String, Str: iampolicy.Str{Value: v, Range: r}, Range: r}
	}
	rng := body.SrcRange
	st := iampolicy.Node{Kind: iampolicy.Object, Range: rng}
	st.Fields = append(st.Fields, field("Effect", rng, lit("Allow", rng)))
	if p, kr, ok := at("principal"); ok {
		var pn iampolicy.Node
		switch {
		case p.IsKnownString() && p.S == "*":
			pn = p.Node()
		case p.IsKnownString() && strings.HasSuffix(p.S, ".amazonaws.com"):
			pn = iampolicy.Node{Kind: iampolicy.Object, Range: p.Range, Fields: []iampolicy.Field{field("Service", kr, p.Node())}}
		default:
			pn = iampolicy.Node{Kind: iampolicy.Object, Range: p.Range, Fields: []iampolicy.Field{field("AWS", kr, p.Node())}}
		}
		st.Fields = append(st.Fields, field("Principal", kr, pn))
	}
	if a, kr, ok := at("action"); ok {
		st.Fields = append(st.Fields, field("Action", kr, a.Node()))
	}
	if f, kr, ok := at("function_name"); ok {
		st.Fields = append(st.Fields, field("Resource", kr, f.Node()))
	}
	cond := iampolicy.Node{Kind: iampolicy.Object, Range: rng}
	for _, m := range [][3]string{{"source_arn", "ArnLike", "aws:SourceArn"}, {"source_account", "StringEquals", "aws:SourceAccount"},
		{"principal_org_id", "StringEquals", "aws:PrincipalOrgID"}, {"function_url_auth_type", "StringEquals", "lambda:FunctionUrlAuthType"}} {
		if v, kr, ok := at(m[0]); ok {
			cond.Fields = append(cond.Fields, field(m[1], kr, iampolicy.Node{Kind: iampolicy.Object, Range: kr, Fields: []iampolicy.Field{field(m[2], kr, v.Node())}}))
		}
	}
	if len(cond.Fields) > 0 {
		st.Fields = append(st.Fields, field("Condition", rng, cond))
	}
	doc := iampolicy.Node{Kind: iampolicy.Object, Range: rng, Fields: []iampolicy.Field{
		field("Version", rng, lit("2012-10-17", rng)),
		field("Statement", rng, iampolicy.Node{Kind: iampolicy.Array, Range: rng, Items: []iampolicy.Node{st}}),
	}}
	c.res.Documents = append(c.res.Documents, &Document{Owner: addr, Attr: "(permission)", Resource: true, Policy: iampolicy.FromNode(doc), Range: rng})
}
