package infra_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// serviceDesign is what one service must look like once applied.
type serviceDesign struct {
	min, max    int32
	cpu, memory string
	stopTimeout int32
}

// design is the service catalogue's sizes, counts and stop timeouts.
var design = func() map[string]serviceDesign {
	out := map[string]serviceDesign{}
	for _, s := range catalog.Services {
		out[s.Name] = serviceDesign{min: int32(s.MinCount), max: int32(s.MaxCount), cpu: strconv.Itoa(s.CPU),
			memory: strconv.Itoa(s.Memory), stopTimeout: int32(s.StopTimeout.Seconds())}
	}
	return out
}()

// grant is one effective permission: an action on one resource. Resources
// are named symbolically ("table", "queue", "dlq") and resolved to the ARNs
// moto reports.
type grant struct{ action, resource string }

// taskRoleGrants are the catalogue's AWS calls per service, as grants.
var taskRoleGrants = func() map[string][]grant {
	out := map[string][]grant{}
	for _, s := range catalog.Services {
		for res, actions := range s.Actions() {
			for _, a := range actions {
				out[s.Name] = append(out[s.Name], grant{a, res})
			}
		}
	}
	return out
}()

// TestLocalEnvironmentAppliesToMoto applies environments/local to moto, reads
// the architecture back through the AWS SDK, checks what moto cannot hold in
// the plan, and destroys it all.
func TestLocalEnvironmentAppliesToMoto(t *testing.T) {
	bin := terraformBinary(t)
	moto := motoserver.Start(t)
	ctx := context.Background()
	root := copyInfra(t)
	dir := filepath.Join(root, "environments", "local")
	tf := terraform(t, bin, dir, moto)
	name := uniqueName(t)
	vars := []string{
		"aws_endpoint=" + moto.URL,
		"name=" + name,
		// One OIDC provider per URL and account: a path of its own keeps
		// runs on a shared moto apart.
		"oidc_url=https://token.actions.githubusercontent.com/" + name,
	}

	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init in environments/local: %v", err)
	}
	var applyOpts []tfexec.ApplyOption
	// The state is fresh from this apply: skip destroy's refresh (minutes on moto).
	destroyOpts := []tfexec.DestroyOption{tfexec.Refresh(false)}
	for _, v := range vars {
		applyOpts = append(applyOpts, tfexec.Var(v))
		destroyOpts = append(destroyOpts, tfexec.Var(v))
	}
	// Registered before apply, so a half-finished apply is cleaned up too.
	t.Cleanup(func() {
		start := time.Now()
		if err := tf.Destroy(ctx, destroyOpts...); err != nil {
			t.Errorf("terraform destroy of environments/local (%s) on %s: %v", name, moto.URL, err)
			return
		}
		t.Logf("terraform destroy took %s", time.Since(start).Round(time.Second))
	})
	start := time.Now()
	if err := tf.Apply(ctx, applyOpts...); err != nil {
		// terraform-exec's error carries Terraform's own diagnostics.
		t.Fatalf("terraform apply of environments/local (%s) on %s: %v", name, moto.URL, err)
	}
	t.Logf("terraform apply took %s", time.Since(start).Round(time.Second))

	outputs, err := tf.Output(ctx)
	if err != nil {
		t.Fatalf("terraform output: %v", err)
	}
	out := func(key string, v any) {
		t.Helper()
		o, ok := outputs[key]
		if !ok {
			t.Fatalf("terraform output %q missing", key)
		}
		if err := json.Unmarshal(o.Value, v); err != nil {
			t.Fatalf("terraform output %q: %v", key, err)
		}
	}
	var vpcID, clusterName, targetGroupARN, queueURL, dlqURL, tableName string
	var serviceNames map[string]string
	out("vpc_id", &vpcID)
	out("cluster_name", &clusterName)
	out("target_group_arn", &targetGroupARN)
	out("queue_url", &queueURL)
	out("dlq_url", &dlqURL)
	out("table_name", &tableName)
	out("service_names", &serviceNames)

	cfg, err := moto.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := world{t: t, ctx: ctx, cfg: cfg, name: name}

	t.Run("subnets", func(t *testing.T) { w.t = t; w.checkSubnets(vpcID) })
	t.Run("vpc endpoints", func(t *testing.T) { w.t = t; w.checkEndpoints(vpcID) })
	t.Run("target group and listener", func(t *testing.T) { w.t = t; w.checkTargetGroup(targetGroupARN) })
	t.Run("ecs services and task definitions", func(t *testing.T) { w.t = t; w.checkServices(clusterName, serviceNames) })
	arns := map[string]string{
		"table": w.tableARN(tableName),
		"queue": w.queueARN(queueURL),
		"dlq":   w.queueARN(dlqURL),
	}
	arns["pending-index"] = arns["table"] + "/index/pending"
	t.Run("task roles", func(t *testing.T) { w.t = t; w.checkTaskRoles(arns) })
	t.Run("deploy role", func(t *testing.T) { w.t = t; w.checkDeployRole() })
	t.Run("ecr", func(t *testing.T) { w.t = t; w.checkRepositories() })
	t.Run("queues", func(t *testing.T) { w.t = t; w.checkQueues(queueURL, arns["dlq"]) })
	t.Run("table", func(t *testing.T) { w.t = t; w.checkTable(tableName) })
	t.Run("hardening", func(t *testing.T) { w.t = t; w.checkHardening(vpcID, targetGroupARN) })
	t.Run("task role trust", func(t *testing.T) { w.t = t; w.checkTrust() })
	t.Run("operator alarms, from the state", func(t *testing.T) { checkAlarmsInState(t, tf) })
	t.Run("what moto drops, in the plan", func(t *testing.T) { checkPlan(t, tf, vars) })
}

// world reads the applied architecture back from moto.
type world struct {
	t    *testing.T
	ctx  context.Context
	cfg  aws.Config
	name string
}

func (w world) checkSubnets(vpcID string) {
	t := w.t
	res, err := ec2.NewFromConfig(w.cfg).DescribeSubnets(w.ctx, &ec2.DescribeSubnetsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	})
	if err != nil {
		t.Fatalf("DescribeSubnets in %s: %v", vpcID, err)
	}
	got := map[string]string{}
	for _, s := range res.Subnets {
		tier := ""
		for _, tag := range s.Tags {
			if aws.ToString(tag.Key) == "Tier" {
				tier = aws.ToString(tag.Value)
			}
		}
		got[aws.ToString(s.CidrBlock)] = aws.ToString(s.AvailabilityZone) + " " + tier
	}
	want := map[string]string{
		"10.0.1.0/24": "us-east-1a public",
		"10.0.3.0/24": "us-east-1b public",
		"10.0.2.0/24": "us-east-1a private",
		"10.0.4.0/24": "us-east-1b private",
	}
	if !maps.Equal(got, want) {
		t.Errorf("subnets of %s (CIDR -> AZ tier):\n got %v\nwant %v", vpcID, got, want)
	}
}

func (w world) checkEndpoints(vpcID string) {
	t := w.t
	res, err := ec2.NewFromConfig(w.cfg).DescribeVpcEndpoints(w.ctx, &ec2.DescribeVpcEndpointsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}},
	})
	if err != nil {
		t.Fatalf("DescribeVpcEndpoints in %s: %v", vpcID, err)
	}
	got := map[string]string{}
	for _, e := range res.VpcEndpoints {
		kind := string(e.VpcEndpointType)
		if e.VpcEndpointType == ec2types.VpcEndpointTypeInterface {
			kind += fmt.Sprintf(" privateDNS=%t subnets=%d", aws.ToBool(e.PrivateDnsEnabled), len(e.SubnetIds))
		} else {
			kind += fmt.Sprintf(" routeTables=%d", len(e.RouteTableIds))
		}
		// Read back the endpoint policy: which condition keys narrow it, or
		// the one bucket the S3 gateway admits.
		var doc struct {
			Statement []struct {
				Resource  any
				Condition map[string]map[string]stringList
			}
		}
		if err := json.Unmarshal([]byte(aws.ToString(e.PolicyDocument)), &doc); err != nil {
			t.Errorf("endpoint %s policy: %v", aws.ToString(e.ServiceName), err)
		}
		for _, st := range doc.Statement {
			kind += " |" + conditions(st.Condition)
			if len(st.Condition) == 0 {
				kind += fmt.Sprint(" ", st.Resource)
			}
		}
		got[aws.ToString(e.ServiceName)] = kind
	}
	p := "com.amazonaws." + motoserver.Region + "."
	own := " | StringEquals aws:PrincipalAccount=[123456789012] aws:ResourceAccount=[123456789012]"
	want := map[string]string{
		p + "s3":       "Gateway routeTables=2 | [arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*]",
		p + "dynamodb": "Gateway routeTables=2" + own,
		p + "ecr.api":  "Interface privateDNS=true subnets=2" + own + " | StringEquals aws:PrincipalAccount=[123456789012]",
		p + "ecr.dkr":  "Interface privateDNS=true subnets=2" + own,
		p + "sqs":      "Interface privateDNS=true subnets=2" + own,
		p + "logs":     "Interface privateDNS=true subnets=2" + own,
	}
	if !maps.Equal(got, want) {
		t.Errorf("VPC endpoints of %s:\n got %v\nwant %v", vpcID, got, want)
	}
}

func (w world) checkTargetGroup(arn string) {
	t := w.t
	c := elbv2.NewFromConfig(w.cfg)
	res, err := c.DescribeTargetGroups(w.ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{arn}})
	if err != nil || len(res.TargetGroups) != 1 {
		t.Fatalf("DescribeTargetGroups %s: %v (%d groups)", arn, err, len(res.TargetGroups))
	}
	tg := res.TargetGroups[0]
	matcher := ""
	if tg.Matcher != nil {
		matcher = aws.ToString(tg.Matcher.GrpcCode)
	}
	got := fmt.Sprintf("protocolVersion=%s targetType=%s port=%d healthPath=%s grpcMatcher=%s",
		aws.ToString(tg.ProtocolVersion), tg.TargetType, aws.ToInt32(tg.Port), aws.ToString(tg.HealthCheckPath), matcher)
	want := "protocolVersion=GRPC targetType=ip port=8080 healthPath=/grpc.health.v1.Health/Check grpcMatcher=0"
	if got != want {
		t.Errorf("target group %s:\n got %s\nwant %s", arn, got, want)
	}
	attrs, err := c.DescribeTargetGroupAttributes(w.ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: &arn})
	if err != nil {
		t.Fatalf("DescribeTargetGroupAttributes %s: %v", arn, err)
	}
	delay := ""
	for _, a := range attrs.Attributes {
		if aws.ToString(a.Key) == "deregistration_delay.timeout_seconds" {
			delay = aws.ToString(a.Value)
		}
	}
	if delay != "30" {
		t.Errorf("target group %s: deregistration delay %q s, want 30", arn, delay)
	}
	if len(tg.LoadBalancerArns) != 1 {
		t.Fatalf("target group %s is attached to %d load balancers, want 1", arn, len(tg.LoadBalancerArns))
	}
	lbs, err := c.DescribeLoadBalancers(w.ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: tg.LoadBalancerArns})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("DescribeLoadBalancers %v: %v", tg.LoadBalancerArns, err)
	}
	// moto does not report the scheme; checkPlan asserts internal = false.
	if lb := lbs.LoadBalancers[0]; len(lb.AvailabilityZones) != 2 {
		t.Errorf("load balancer %s in %d AZs, want 2", aws.ToString(lb.LoadBalancerArn), len(lb.AvailabilityZones))
	}
	ls, err := c.DescribeListeners(w.ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: &tg.LoadBalancerArns[0]})
	if err != nil {
		t.Fatalf("DescribeListeners: %v", err)
	}
	if len(ls.Listeners) != 1 {
		t.Fatalf("load balancer has %d listeners, want 1 (HTTPS)", len(ls.Listeners))
	}
	l := ls.Listeners[0]
	if l.Protocol != "HTTPS" || aws.ToInt32(l.Port) != 443 || len(l.Certificates) != 1 {
		t.Errorf("listener: %s:%d with %d certificates, want HTTPS:443 with 1", l.Protocol, aws.ToInt32(l.Port), len(l.Certificates))
	}
}

func (w world) checkServices(cluster string, names map[string]string) {
	t := w.t
	c := ecs.NewFromConfig(w.cfg)
	clusters, err := c.DescribeClusters(w.ctx, &ecs.DescribeClustersInput{
		Clusters: []string{cluster}, Include: []ecstypes.ClusterField{ecstypes.ClusterFieldSettings},
	})
	if err != nil || len(clusters.Clusters) != 1 {
		t.Fatalf("DescribeClusters %s: %v", cluster, err)
	}
	insights := ""
	for _, s := range clusters.Clusters[0].Settings {
		if s.Name == ecstypes.ClusterSettingNameContainerInsights {
			insights = aws.ToString(s.Value)
		}
	}
	if insights != "enabled" {
		t.Errorf("cluster %s: containerInsights %q, want enabled", cluster, insights)
	}

	wantNames := map[string]string{"api": w.name + "-api", "worker": w.name + "-worker", "dlq": w.name + "-dlq"}
	if !maps.Equal(names, wantNames) {
		t.Fatalf("service names: got %v, want %v", names, wantNames)
	}
	res, err := c.DescribeServices(w.ctx, &ecs.DescribeServicesInput{
		Cluster: &cluster, Services: []string{names["api"], names["worker"], names["dlq"]},
	})
	if err != nil {
		t.Fatalf("DescribeServices in %s: %v", cluster, err)
	}
	if len(res.Failures) > 0 || len(res.Services) != 3 {
		t.Fatalf("DescribeServices in %s: %d services, failures %+v", cluster, len(res.Services), res.Failures)
	}
	for _, s := range res.Services {
		svc := strings.TrimPrefix(aws.ToString(s.ServiceName), w.name+"-")
		d := design[svc]
		// moto keeps no deployment configuration, circuit breaker or grace
		// period; checkPlan asserts those in what Terraform sends.
		got := fmt.Sprintf("desired=%d launch=%s", s.DesiredCount, s.LaunchType)
		want := fmt.Sprintf("desired=%d launch=FARGATE", d.min)
		if got != want {
			t.Errorf("service %s:\n got %s\nwant %s", svc, got, want)
		}
		if svc == "api" {
			if len(s.LoadBalancers) != 1 || aws.ToString(s.LoadBalancers[0].ContainerName) != "api" || aws.ToInt32(s.LoadBalancers[0].ContainerPort) != 8080 {
				t.Errorf("service api: load balancers %+v, want container api port 8080 in the target group", s.LoadBalancers)
			}
		}
		if nc := s.NetworkConfiguration; nc == nil || nc.AwsvpcConfiguration == nil ||
			len(nc.AwsvpcConfiguration.Subnets) != 2 || nc.AwsvpcConfiguration.AssignPublicIp != ecstypes.AssignPublicIpDisabled {
			t.Errorf("service %s: network configuration %+v, want the 2 private subnets without public IPs", svc, nc)
		}

		td, err := c.DescribeTaskDefinition(w.ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: s.TaskDefinition})
		if err != nil {
			t.Fatalf("DescribeTaskDefinition %s: %v", aws.ToString(s.TaskDefinition), err)
		}
		def := td.TaskDefinition
		if aws.ToString(def.Cpu) != d.cpu || aws.ToString(def.Memory) != d.memory {
			t.Errorf("task definition %s: cpu %s / memory %s, want %s / %s (services/catalog)", aws.ToString(def.TaskDefinitionArn), aws.ToString(def.Cpu), aws.ToString(def.Memory), d.cpu, d.memory)
		}
		if len(def.ContainerDefinitions) != 1 || aws.ToString(def.ContainerDefinitions[0].Name) != svc {
			t.Fatalf("task definition %s: containers %d, want one named %s", aws.ToString(def.TaskDefinitionArn), len(def.ContainerDefinitions), svc)
		}
		if st := aws.ToInt32(def.ContainerDefinitions[0].StopTimeout); st != d.stopTimeout {
			t.Errorf("task definition %s: stopTimeout %d s, want %d", aws.ToString(def.TaskDefinitionArn), st, d.stopTimeout)
		}
		// worker and dlq: the container health check runs the binary's
		// health subcommand on the liveness file the process keeps fresh.
		wantCheck := "<nil>"
		if svc != "api" {
			wantCheck = fmt.Sprintf("[CMD /usr/local/bin/%s health -file /dev/shm/conveyor-alive -max-age 90s] 30/5/3/60", svc)
		}
		gotCheck := "<nil>"
		if h := def.ContainerDefinitions[0].HealthCheck; h != nil {
			gotCheck = fmt.Sprintf("%v %d/%d/%d/%d", h.Command, aws.ToInt32(h.Interval), aws.ToInt32(h.Timeout), aws.ToInt32(h.Retries), aws.ToInt32(h.StartPeriod))
		}
		if gotCheck != wantCheck {
			t.Errorf("task definition %s health check (interval/timeout/retries/start):\n got %s\nwant %s", svc, gotCheck, wantCheck)
		}
		taskRole, execRole := aws.ToString(def.TaskRoleArn), aws.ToString(def.ExecutionRoleArn)
		if !strings.HasSuffix(taskRole, ":role/"+w.name+"-"+svc+"-task") || !strings.HasSuffix(execRole, ":role/"+w.name+"-"+svc+"-execution") {
			t.Errorf("task definition %s: task role %s, execution role %s; want the service's own two, separate", svc, taskRole, execRole)
		}
	}
}

func (w world) tableARN(name string) string {
	res, err := dynamodb.NewFromConfig(w.cfg).DescribeTable(w.ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		w.t.Fatalf("DescribeTable %s: %v", name, err)
	}
	return aws.ToString(res.Table.TableArn)
}

func (w world) queueARN(queueURL string) string {
	res, err := sqs.NewFromConfig(w.cfg).GetQueueAttributes(w.ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		w.t.Fatalf("GetQueueAttributes %s: %v", queueURL, err)
	}
	return res.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// statement is an IAM policy statement; Action and Resource may be a string
// or a list.
type statement struct {
	Sid       string
	Effect    string
	Action    stringList
	NotAction stringList
	Resource  stringList
	Condition map[string]map[string]stringList
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// rolePolicy returns the statements of the role's only policy, failing if
// the role carries anything else (a second inline or an attached managed
// policy), so the statements are the role's whole effective policy.
func (w world) rolePolicy(role string) []statement {
	t := w.t
	c := iam.NewFromConfig(w.cfg)
	attached, err := c.ListAttachedRolePolicies(w.ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	if err != nil {
		t.Fatalf("ListAttachedRolePolicies %s: %v", role, err)
	}
	if len(attached.AttachedPolicies) > 0 {
		t.Errorf("role %s has managed policies attached: %+v; want only its inline policy", role, attached.AttachedPolicies)
	}
	inline, err := c.ListRolePolicies(w.ctx, &iam.ListRolePoliciesInput{RoleName: &role})
	if err != nil {
		t.Fatalf("ListRolePolicies %s: %v", role, err)
	}
	if len(inline.PolicyNames) != 1 || inline.PolicyNames[0] != role {
		t.Fatalf("role %s inline policies %v, want exactly [%s]", role, inline.PolicyNames, role)
	}
	p, err := c.GetRolePolicy(w.ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: &role})
	if err != nil {
		t.Fatalf("GetRolePolicy %s: %v", role, err)
	}
	doc := aws.ToString(p.PolicyDocument)
	if dec, err := url.QueryUnescape(doc); err == nil && strings.HasPrefix(strings.TrimSpace(dec), "{") {
		doc = dec
	}
	var policy struct{ Statement []statement }
	if err := json.Unmarshal([]byte(doc), &policy); err != nil {
		t.Fatalf("role %s policy is not JSON: %v\n%s", role, err, doc)
	}
	return policy.Statement
}

func (w world) checkTaskRoles(arns map[string]string) {
	for _, svc := range []string{"api", "worker", "dlq"} {
		role := w.name + "-" + svc + "-task"
		var got []string
		for _, s := range w.rolePolicy(role) {
			if s.Effect != "Allow" || len(s.NotAction) > 0 || len(s.Condition) > 0 {
				w.t.Errorf("role %s statement %s: effect %s, NotAction %v, Condition %v; want plain Allow statements", role, s.Sid, s.Effect, s.NotAction, s.Condition)
			}
			for _, a := range s.Action {
				for _, r := range s.Resource {
					got = append(got, a+" on "+r)
				}
			}
		}
		var want []string
		for _, g := range taskRoleGrants[svc] {
			want = append(want, g.action+" on "+arns[g.resource])
		}
		sort.Strings(got)
		sort.Strings(want)
		// The execution role is ECS's, not the code's: it must not reach the data.
		execRole := w.name + "-" + svc + "-execution"
		for _, s := range w.rolePolicy(execRole) {
			for _, a := range s.Action {
				if strings.HasPrefix(a, "dynamodb:") || strings.HasPrefix(a, "sqs:") {
					w.t.Errorf("execution role %s grants %s: the service's data access belongs in its task role only", execRole, a)
				}
			}
		}
		if !slices.Equal(got, want) {
			w.t.Errorf("task role %s, effective grants:\n got %s\nwant %s", role, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
	}
}

func (w world) checkDeployRole() {
	t := w.t
	role := w.name + "-deploy"
	var passRole *statement
	for _, s := range w.rolePolicy(role) {
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("deploy role statement %s grants the wildcard action %s", s.Sid, a)
			}
			if a == "iam:PassRole" {
				passRole = &s
			}
		}
	}
	if passRole == nil {
		t.Fatalf("deploy role %s cannot pass the service roles (no iam:PassRole)", role)
	}
	var got []string
	for _, r := range passRole.Resource {
		got = append(got, r[strings.LastIndex(r, "/")+1:])
	}
	want := []string{}
	for _, svc := range []string{"api", "worker", "dlq"} {
		want = append(want, w.name+"-"+svc+"-task", w.name+"-"+svc+"-execution")
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("deploy role may pass %v, want exactly %v", got, want)
	}
	if to := passRole.Condition["StringEquals"]["iam:PassedToService"]; !slices.Equal(to, []string{"ecs-tasks.amazonaws.com"}) {
		t.Errorf("deploy role's iam:PassRole condition iam:PassedToService = %v, want [ecs-tasks.amazonaws.com]", to)
	}

	r, err := iam.NewFromConfig(w.cfg).GetRole(w.ctx, &iam.GetRoleInput{RoleName: &role})
	if err != nil {
		t.Fatalf("GetRole %s: %v", role, err)
	}
	doc := aws.ToString(r.Role.AssumeRolePolicyDocument)
	if dec, err := url.QueryUnescape(doc); err == nil {
		doc = dec
	}
	var trust struct {
		Statement []struct {
			Action    stringList
			Principal struct{ Federated string }
			Condition map[string]map[string]stringList
		}
	}
	if err := json.Unmarshal([]byte(doc), &trust); err != nil || len(trust.Statement) != 1 {
		t.Fatalf("deploy role %s trust policy: %v\n%s", role, err, doc)
	}
	st := trust.Statement[0]
	host := "token.actions.githubusercontent.com/" + w.name
	got = []string{
		strings.Join(st.Action, ","),
		st.Principal.Federated[strings.Index(st.Principal.Federated, ":oidc-provider/")+1:],
		strings.Join(st.Condition["StringEquals"][host+":aud"], ","),
		strings.Join(st.Condition["StringEquals"][host+":sub"], ","),
	}
	want = []string{"sts:AssumeRoleWithWebIdentity", "oidc-provider/" + host, "sts.amazonaws.com", "repo:conveyor-dev/conveyor:environment:production"} // the production environment only: main gets the build role
	if !slices.Equal(got, want) {
		t.Errorf("deploy role trust (action, provider, aud, sub):\n got %q\nwant %q", got, want)
	}
}

func (w world) checkRepositories() {
	t := w.t
	c := ecr.NewFromConfig(w.cfg)
	for _, svc := range []string{"api", "worker", "dlq"} {
		repo := w.name + "/" + svc
		res, err := c.DescribeRepositories(w.ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{repo}})
		if err != nil || len(res.Repositories) != 1 {
			t.Fatalf("DescribeRepositories %s: %v", repo, err)
		}
		r := res.Repositories[0]
		scan := r.ImageScanningConfiguration != nil && r.ImageScanningConfiguration.ScanOnPush
		if r.ImageTagMutability != "IMMUTABLE" || !scan {
			t.Errorf("repository %s: tags %s, scan on push %t; want IMMUTABLE and true", repo, r.ImageTagMutability, scan)
		}
		lp, err := c.GetLifecyclePolicy(w.ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: &repo})
		if err != nil {
			t.Fatalf("GetLifecyclePolicy %s: %v", repo, err)
		}
		var policy struct {
			Rules []struct {
				Selection struct{ TagStatus, CountType string }
			}
		}
		if err := json.Unmarshal([]byte(aws.ToString(lp.LifecyclePolicyText)), &policy); err != nil {
			t.Fatalf("repository %s lifecycle policy: %v", repo, err)
		}
		var rules []string
		for _, r := range policy.Rules {
			rules = append(rules, r.Selection.TagStatus+"/"+r.Selection.CountType)
		}
		if want := []string{"untagged/sinceImagePushed", "any/imageCountMoreThan"}; !slices.Equal(rules, want) {
			t.Errorf("repository %s lifecycle rules %v, want %v", repo, rules, want)
		}
	}
}

func (w world) checkQueues(queueURL, dlqARN string) {
	t := w.t
	res, err := sqs.NewFromConfig(w.cfg).GetQueueAttributes(w.ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &queueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes %s: %v", queueURL, err)
	}
	var redrive struct {
		DeadLetterTargetArn string
		MaxReceiveCount     json.Number
	}
	if err := json.Unmarshal([]byte(res.Attributes["RedrivePolicy"]), &redrive); err != nil {
		t.Fatalf("queue %s redrive policy %q: %v", queueURL, res.Attributes["RedrivePolicy"], err)
	}
	if redrive.DeadLetterTargetArn != dlqARN || redrive.MaxReceiveCount.String() != "5" {
		t.Errorf("queue %s redrive: to %s after %s receives, want to %s after 5", queueURL, redrive.DeadLetterTargetArn, redrive.MaxReceiveCount, dlqARN)
	}
	if got := res.Attributes["ReceiveMessageWaitTimeSeconds"]; got != "20" {
		t.Errorf("queue %s long polling: wait %s s, want 20", queueURL, got)
	}
	if got := res.Attributes["SqsManagedSseEnabled"]; got != "true" {
		t.Errorf("queue %s SqsManagedSseEnabled %q, want true", queueURL, got)
	}
}

func (w world) checkTable(name string) {
	t := w.t
	c := dynamodb.NewFromConfig(w.cfg)
	res, err := c.DescribeTable(w.ctx, &dynamodb.DescribeTableInput{TableName: &name})
	if err != nil {
		t.Fatalf("DescribeTable %s: %v", name, err)
	}
	// services/internal/taskstore reads and writes items by this key.
	if ks := res.Table.KeySchema; len(ks) != 1 || aws.ToString(ks[0].AttributeName) != "task_id" || ks[0].KeyType != "HASH" {
		t.Errorf("table %s key schema %+v, want the single partition key task_id", name, ks)
	}
	if b := res.Table.BillingModeSummary; b == nil || b.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("table %s billing %+v, want PAY_PER_REQUEST (on demand)", name, b)
	}
	pitr, err := c.DescribeContinuousBackups(w.ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: &name})
	if err != nil {
		t.Fatalf("DescribeContinuousBackups %s: %v", name, err)
	}
	if d := pitr.ContinuousBackupsDescription; d == nil || d.PointInTimeRecoveryDescription == nil || d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != "ENABLED" {
		t.Errorf("table %s: point-in-time recovery not enabled: %+v", name, d)
	}
}

// checkPlan plans the applied world with autoscaling switched on (moto
// cannot hold it, see local.auto.tfvars) and checks, in what Terraform would
// send, what moto cannot report: the scalable targets and alarms, the
// services' deployment configuration, circuit breaker and grace period, and
// the load balancer's scheme.
func checkPlan(t *testing.T, tf *tfexec.Terraform, vars []string) {
	ctx := context.Background()
	planFile := filepath.Join(t.TempDir(), "autoscaling.tfplan")
	opts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Refresh(false), tfexec.Var("enable_autoscaling=true")}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v))
	}
	if _, err := tf.Plan(ctx, opts...); err != nil {
		t.Fatalf("terraform plan with enable_autoscaling=true: %v", err)
	}
	plan, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		t.Fatalf("terraform show %s: %v", planFile, err)
	}
	planned := plannedValues(plan)
	for _, svc := range []string{"api", "worker", "dlq"} {
		addr := `module.service["` + svc + `"].aws_ecs_service.this`
		v := planned[addr]
		if v == nil {
			t.Errorf("plan has no %s", addr)
			continue
		}
		got := fmt.Sprintf("min=%v%% max=%v%% breaker=%v grace=%v rebalancing=%v", v["deployment_minimum_healthy_percent"], v["deployment_maximum_percent"], v["deployment_circuit_breaker"], v["health_check_grace_period_seconds"], v["availability_zone_rebalancing"])
		grace, minPct := "0", 50 // no target group, no grace period; the designed 50 %
		if svc == "api" {
			// 100 %: a deploy never runs the api on fewer than its 2 tasks.
			grace, minPct = "60", 100
		}
		want := fmt.Sprintf("min=%d%% max=200%% breaker=[map[enable:true rollback:true]] grace=%s rebalancing=ENABLED", minPct, grace)
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", addr, got, want)
		}
	}
	if lb := planned["module.alb.aws_lb.this"]; lb == nil || lb["internal"] != false || lb["load_balancer_type"] != "application" {
		t.Errorf("module.alb.aws_lb.this: want an internet-facing (internal = false) application load balancer, planned %v", lb)
	}

	after := map[string]map[string]any{}
	for _, rc := range plan.ResourceChanges {
		if rc.Change != nil && rc.Change.Actions.Create() {
			if m, ok := rc.Change.After.(map[string]any); ok {
				after[rc.Address] = m
			}
		}
	}
	metricNames := func(alarm map[string]any) []string {
		var names []string
		qs, _ := alarm["metric_query"].([]any)
		for _, q := range qs {
			ms, _ := q.(map[string]any)["metric"].([]any)
			for _, m := range ms {
				names = append(names, fmt.Sprint(m.(map[string]any)["metric_name"]))
			}
		}
		sort.Strings(names)
		return names
	}
	// Every scaling alarm: operator, threshold, periods and metric. The dlq's
	// scale-in must be reachable: a message count is never "< 0".
	cases := []struct {
		svc     string
		out, in string // "operator threshold for periods"
		metric  string
	}{
		{"api", "GreaterThanThreshold 70 for 2", "LessThanThreshold 35 for 15", "CPUUtilization"},
		{"worker", "GreaterThanThreshold 500 for 2", "LessThanThreshold 50 for 15", "ApproximateNumberOfMessagesVisible"},
		{"dlq", "GreaterThanOrEqualToThreshold 1 for 1", "LessThanThreshold 1 for 15", "ApproximateNumberOfMessagesVisible"},
	}
	for _, c := range cases {
		mod := `module.service["` + c.svc + `"]`
		target := after[mod+".aws_appautoscaling_target.this[0]"]
		if target == nil {
			t.Errorf("plan creates no scalable target for %s", c.svc)
			continue
		}
		d := design[c.svc]
		if target["min_capacity"] != float64(d.min) || target["max_capacity"] != float64(d.max) {
			t.Errorf("%s scales %v → %v, want %d → %d", c.svc, target["min_capacity"], target["max_capacity"], d.min, d.max)
		}
		for _, a := range []struct{ name, want string }{{"high", c.out}, {"low", c.in}} {
			alarm := after[mod+".aws_cloudwatch_metric_alarm."+a.name+"[0]"]
			if alarm == nil {
				t.Errorf("plan creates no %s scaling alarm for %s", a.name, c.svc)
				continue
			}
			got := fmt.Sprintf("%v %v for %v on %v", alarm["comparison_operator"], alarm["threshold"], alarm["evaluation_periods"], metricNames(alarm))
			want := fmt.Sprintf("%s on [%s]", a.want, c.metric)
			if got != want {
				t.Errorf("%s %s alarm:\n got %s\nwant %s", c.svc, a.name, got, want)
			}
		}
	}
}

// checkHardening reads back the default security group, the flow log, the
// ALB's attributes and its egress rule.
func (w world) checkHardening(vpcID, targetGroupARN string) {
	t := w.t
	c := ec2.NewFromConfig(w.cfg)
	sgs, err := c.DescribeSecurityGroups(w.ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpcID}}, {Name: aws.String("group-name"), Values: []string{"default"}}}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups default in %s: %v (%d groups)", vpcID, err, len(sgs.SecurityGroups))
	}
	if d := sgs.SecurityGroups[0]; len(d.IpPermissions) != 0 || len(d.IpPermissionsEgress) != 0 {
		t.Errorf("default security group %s: ingress %+v, egress %+v; want no rules", aws.ToString(d.GroupId), d.IpPermissions, d.IpPermissionsEgress)
	}

	fl, err := c.DescribeFlowLogs(w.ctx, &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{vpcID}}}})
	if err != nil || len(fl.FlowLogs) != 1 {
		t.Fatalf("DescribeFlowLogs %s: %v (%d)", vpcID, err, len(fl.FlowLogs))
	}
	f := fl.FlowLogs[0]
	got := fmt.Sprintf("%s to %s via %s", f.TrafficType, f.LogDestinationType, aws.ToString(f.DeliverLogsPermissionArn))
	want := fmt.Sprintf("ALL to cloud-watch-logs via arn:aws:iam::123456789012:role/%s-flow-logs", w.name)
	if got != want || !strings.HasSuffix(aws.ToString(f.LogDestination), ":log-group:/vpc/"+w.name+"/flow-logs") {
		t.Errorf("flow log of %s:\n got %s into %s\nwant %s into /vpc/%s/flow-logs", vpcID, got, aws.ToString(f.LogDestination), want, w.name)
	}

	lb := elbv2.NewFromConfig(w.cfg)
	tgs, err := lb.DescribeTargetGroups(w.ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{targetGroupARN}})
	if err != nil || len(tgs.TargetGroups) != 1 || len(tgs.TargetGroups[0].LoadBalancerArns) != 1 {
		t.Fatalf("DescribeTargetGroups %s: %v", targetGroupARN, err)
	}
	lbARN := tgs.TargetGroups[0].LoadBalancerArns[0]
	attrs, err := lb.DescribeLoadBalancerAttributes(w.ctx, &elbv2.DescribeLoadBalancerAttributesInput{LoadBalancerArn: &lbARN})
	if err != nil {
		t.Fatalf("DescribeLoadBalancerAttributes %s: %v", lbARN, err)
	}
	a := map[string]string{}
	for _, kv := range attrs.Attributes {
		a[aws.ToString(kv.Key)] = aws.ToString(kv.Value)
	}
	// Deletion protection is off only here (local.auto.tfvars: destroy must
	// succeed); TestProductionDefaultsInThePlan asserts production's true.
	got = fmt.Sprintf("access_logs=%s bucket=%s prefix=%s deletion_protection=%s", a["access_logs.s3.enabled"], a["access_logs.s3.bucket"], a["access_logs.s3.prefix"], a["deletion_protection.enabled"])
	want = fmt.Sprintf("access_logs=true bucket=%s-alb-logs-123456789012 prefix=alb deletion_protection=false", w.name)
	if got != want {
		t.Errorf("load balancer attributes:\n got %s\nwant %s", got, want)
	}

	lbs, err := lb.DescribeLoadBalancers(w.ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
	if err != nil || len(lbs.LoadBalancers) != 1 || len(lbs.LoadBalancers[0].SecurityGroups) != 1 {
		t.Fatalf("DescribeLoadBalancers %s: %v", lbARN, err)
	}
	albSG := lbs.LoadBalancers[0].SecurityGroups[0]
	apiSGs, err := c.DescribeSecurityGroups(w.ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{w.name + "-api"}}}})
	if err != nil || len(apiSGs.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups %s-api: %v", w.name, err)
	}
	rules, err := c.DescribeSecurityGroupRules(w.ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{albSG}}}})
	if err != nil {
		t.Fatalf("DescribeSecurityGroupRules %s: %v", albSG, err)
	}
	var egress []string
	for _, r := range rules.SecurityGroupRules {
		if !aws.ToBool(r.IsEgress) {
			continue
		}
		to := aws.ToString(r.CidrIpv4)
		if r.ReferencedGroupInfo != nil {
			to = aws.ToString(r.ReferencedGroupInfo.GroupId)
		}
		egress = append(egress, fmt.Sprintf("%s %d-%d to %s", aws.ToString(r.IpProtocol), aws.ToInt32(r.FromPort), aws.ToInt32(r.ToPort), to))
	}
	if want := []string{"tcp 8080-8080 to " + aws.ToString(apiSGs.SecurityGroups[0].GroupId)}; !slices.Equal(egress, want) {
		t.Errorf("ALB security group %s egress %v, want only %v (the api tasks' group)", albSG, egress, want)
	}
}

// checkTrust reads back both roles' trust of every service.
func (w world) checkTrust() {
	c := iam.NewFromConfig(w.cfg)
	for _, svc := range []string{"api", "worker", "dlq"} {
		for role, want := range map[string]string{
			"task":      " ArnLike aws:SourceArn=[arn:aws:ecs:us-east-1:123456789012:*] StringEquals aws:SourceAccount=[123456789012]",
			"execution": " StringEquals aws:SourceAccount=[123456789012]",
		} {
			name := w.name + "-" + svc + "-" + role
			r, err := c.GetRole(w.ctx, &iam.GetRoleInput{RoleName: &name})
			if err != nil {
				w.t.Fatalf("GetRole %s: %v", name, err)
			}
			doc := aws.ToString(r.Role.AssumeRolePolicyDocument)
			if dec, err := url.QueryUnescape(doc); err == nil {
				doc = dec
			}
			var trust struct {
				Statement []struct {
					Condition map[string]map[string]stringList
				}
			}
			if err := json.Unmarshal([]byte(doc), &trust); err != nil || len(trust.Statement) != 1 {
				w.t.Fatalf("role %s trust: %v\n%s", name, err, doc)
			}
			if got := conditions(trust.Statement[0].Condition); got != want {
				w.t.Errorf("role %s trust conditions:\n got%s\nwant%s", name, got, want)
			}
		}
	}
}

// checkAlarmsInState checks the operator alarms and the topic as the aws
// provider read them back from moto after creating them (DescribeAlarms,
// GetTopicAttributes): the CloudWatch and SNS SDK modules are not
// dependencies of this repository, so the provider's read is the read-back.
func checkAlarmsInState(t *testing.T, tf *tfexec.Terraform) {
	st, err := tf.Show(context.Background())
	if err != nil {
		t.Fatalf("terraform show: %v", err)
	}
	var topic string
	alarms := map[string]map[string]any{}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			switch {
			case r.Type == "aws_sns_topic" && r.Address == "module.alarms.aws_sns_topic.alarms":
				topic, _ = r.AttributeValues["arn"].(string)
			case r.Type == "aws_cloudwatch_metric_alarm" && strings.HasPrefix(r.Address, "module.alarms."):
				alarms[r.Address] = r.AttributeValues
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(st.Values.RootModule)
	if !strings.HasPrefix(topic, "arn:aws:sns:") {
		t.Fatalf("alarm topic ARN %q", topic)
	}
	if len(alarms) != 6 {
		t.Errorf("%d operator alarms in the state, want 6", len(alarms))
	}
	for addr, a := range alarms {
		for _, k := range []string{"alarm_actions", "ok_actions"} {
			if got := fmt.Sprint(a[k]); got != "["+topic+"]" {
				t.Errorf("%s %s = %s, want [%s]", addr, k, got, topic)
			}
		}
	}
}
