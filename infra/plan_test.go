package infra_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
)

// productionPlan plans the production composition with production's
// defaults (environments/local without its local.auto.tfvars, so nothing
// is switched off for moto) on a fresh moto, with an alarm address, and
// returns the plan. Nothing is applied.
func productionPlan(t *testing.T) *tfjson.Plan {
	t.Helper()
	bin := terraformBinary(t)
	moto := motoserver.Start(t)
	ctx := context.Background()
	root := copyInfra(t)
	dir := filepath.Join(root, "environments", "local")
	if err := os.Remove(filepath.Join(dir, "local.auto.tfvars")); err != nil {
		t.Fatal(err)
	}
	tf := terraform(t, bin, dir, moto)
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	planFile := filepath.Join(t.TempDir(), "production.tfplan")
	if _, err := tf.Plan(ctx, tfexec.Out(planFile), tfexec.Var("aws_endpoint="+moto.URL), tfexec.Var("alarm_email=oncall@example.com")); err != nil {
		t.Fatalf("terraform plan with production's defaults: %v", err)
	}
	plan, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		t.Fatalf("terraform show %s: %v", planFile, err)
	}
	return plan
}

// plannedValues maps every planned resource address to its values.
func plannedValues(plan *tfjson.Plan) map[string]map[string]any {
	out := map[string]map[string]any{}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		if m == nil {
			return
		}
		for _, r := range m.Resources {
			out[r.Address] = r.AttributeValues
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	if plan.PlannedValues != nil {
		walk(plan.PlannedValues.RootModule)
	}
	return out
}

// jsonAttr decodes a JSON-string attribute (a policy, container definitions).
func jsonAttr(t *testing.T, r map[string]any, attr string, v any) {
	t.Helper()
	s, ok := r[attr].(string)
	if !ok {
		t.Fatalf("attribute %s is %T (%v), want a JSON string known at plan time", attr, r[attr], r[attr])
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("attribute %s: %v\n%s", attr, err, s)
	}
}

func svc(s string) string { return `module.service["` + s + `"]` }

// TestProductionDefaultsInThePlan asserts, value by value, what the
// production composition sends to AWS with its defaults: deployment
// settings, trust, alarms, the ALB's hardening, endpoint
// policies, flow logs, the default security group and the depends_on that
// order creation. moto keeps some of these and drops others; the apply test
// reads back what it keeps.
func TestProductionDefaultsInThePlan(t *testing.T) {
	t.Parallel()
	plan := productionPlan(t)
	p := plannedValues(plan)
	get := func(addr string) map[string]any {
		t.Helper()
		r := p[addr]
		if r == nil {
			t.Fatalf("the plan has no %s", addr)
		}
		return r
	}

	t.Run("services", func(t *testing.T) {
		for _, c := range []struct {
			svc, want string
		}{
			{"api", "min=100 max=200 rebalancing=ENABLED alarms=[map[alarm_names:[conveyor-api-5xx-rate] enable:true rollback:true]]"},
			{"worker", "min=50 max=200 rebalancing=ENABLED alarms=[]"},
			{"dlq", "min=50 max=200 rebalancing=ENABLED alarms=[]"},
		} {
			v := get(svc(c.svc) + ".aws_ecs_service.this")
			got := fmt.Sprintf("min=%v max=%v rebalancing=%v alarms=%v", v["deployment_minimum_healthy_percent"], v["deployment_maximum_percent"], v["availability_zone_rebalancing"], v["alarms"])
			if got != c.want {
				t.Errorf("%s service:\n got %s\nwant %s", c.svc, got, c.want)
			}
		}
	})

	t.Run("ecs-tasks trust", func(t *testing.T) {
		for _, s := range []string{"api", "worker", "dlq"} {
			for _, c := range []struct{ role, want string }{
				{"task", "ecs-tasks.amazonaws.com sts:AssumeRole ArnLike aws:SourceArn=[arn:aws:ecs:us-east-1:123456789012:*] StringEquals aws:SourceAccount=[123456789012]"},
				{"execution", "ecs-tasks.amazonaws.com sts:AssumeRole StringEquals aws:SourceAccount=[123456789012]"},
			} {
				var doc struct {
					Statement []struct {
						Principal struct{ Service string }
						Action    string
						Condition map[string]map[string]stringList
					}
				}
				jsonAttr(t, get(svc(s)+".aws_iam_role."+c.role), "assume_role_policy", &doc)
				if len(doc.Statement) != 1 {
					t.Fatalf("%s %s role trust has %d statements, want 1", s, c.role, len(doc.Statement))
				}
				st := doc.Statement[0]
				got := st.Principal.Service + " " + st.Action + conditions(st.Condition)
				if got != c.want {
					t.Errorf("%s %s role trust:\n got %s\nwant %s", s, c.role, got, c.want)
				}
			}
		}
	})

	t.Run("operator alarms", func(t *testing.T) {
		// name → operator threshold, periods/datapoints, what it measures.
		want := map[string]string{
			"dlq_visible":             "GreaterThanThreshold 0, 1/1, AWS/SQS ApproximateNumberOfMessagesVisible Maximum of conveyor-tasks-dlq",
			`oldest_message["queue"]`: "GreaterThanThreshold 300, 3/3, AWS/SQS ApproximateAgeOfOldestMessage Maximum of conveyor-tasks",
			`oldest_message["dlq"]`:   "GreaterThanThreshold 3600, 3/3, AWS/SQS ApproximateAgeOfOldestMessage Maximum of conveyor-tasks-dlq",
			"unhealthy_hosts":         "GreaterThanThreshold 0, 2/2, AWS/ApplicationELB UnHealthyHostCount Maximum",
			"api_errors":              "GreaterThanThreshold 5, 2/2, IF(requests > 0, 100 * (elb5xx + target5xx) / requests, 0) over [HTTPCode_ELB_5XX_Count HTTPCode_Target_5XX_Count RequestCount]",
			"worker_backlog":          "GreaterThanThreshold 250, 10/10, IF(tasks > 0, depth / tasks, depth) over [ApproximateNumberOfMessagesVisible RunningTaskCount]",
		}
		for name, w := range want {
			a := get("module.alarms.aws_cloudwatch_metric_alarm." + name)
			got := fmt.Sprintf("%v %v, %v/%v, ", a["comparison_operator"], a["threshold"], a["datapoints_to_alarm"], a["evaluation_periods"])
			if a["metric_name"] != nil && a["metric_name"] != "" {
				got += fmt.Sprintf("%v %v %v", a["namespace"], a["metric_name"], a["statistic"])
				if d, ok := a["dimensions"].(map[string]any); ok && d["QueueName"] != nil {
					got += fmt.Sprintf(" of %v", d["QueueName"])
				}
			} else {
				var expr string
				var metrics []string
				qs, _ := a["metric_query"].([]any)
				for _, q := range qs {
					qm := q.(map[string]any)
					if qm["return_data"] == true {
						expr = fmt.Sprint(qm["expression"])
					}
					ms, _ := qm["metric"].([]any)
					for _, m := range ms {
						metrics = append(metrics, fmt.Sprint(m.(map[string]any)["metric_name"]))
					}
				}
				sort.Strings(metrics)
				got += fmt.Sprintf("%s over %v", expr, metrics)
			}
			if got != w {
				t.Errorf("alarm %s:\n got %s\nwant %s", name, got, w)
			}
			if a["treat_missing_data"] != "notBreaching" {
				t.Errorf("alarm %s treats missing data as %v, want notBreaching", name, a["treat_missing_data"])
			}
		}
		sub := get("module.alarms.aws_sns_topic_subscription.email[0]")
		if sub["protocol"] != "email" || sub["endpoint"] != "oncall@example.com" {
			t.Errorf("alarm topic subscription: %v %v, want email oncall@example.com", sub["protocol"], sub["endpoint"])
		}
	})

	t.Run("alb", func(t *testing.T) {
		lb := get("module.alb.aws_lb.this")
		logs, _ := lb["access_logs"].([]any)
		got := fmt.Sprintf("deletion_protection=%v drop_invalid_headers=%v access_logs=%d", lb["enable_deletion_protection"], lb["drop_invalid_header_fields"], len(logs))
		if len(logs) == 1 {
			l := logs[0].(map[string]any)
			got += fmt.Sprintf(" enabled=%v prefix=%v", l["enabled"], l["prefix"])
		}
		if want := "deletion_protection=true drop_invalid_headers=true access_logs=1 enabled=true prefix=alb"; got != want {
			t.Errorf("load balancer:\n got %s\nwant %s", got, want)
		}
		eg := get("module.alb.aws_vpc_security_group_egress_rule.targets")
		if got := fmt.Sprintf("tcp %v-%v cidr=%v", eg["from_port"], eg["to_port"], eg["cidr_ipv4"]); got != "tcp 8080-8080 cidr=<nil>" {
			t.Errorf("ALB egress: %s, want tcp 8080-8080 to the api's security group, no CIDR", got)
		}
		enc := get("module.alb.aws_s3_bucket_server_side_encryption_configuration.logs[0]")
		if !strings.Contains(fmt.Sprint(enc["rule"]), "sse_algorithm:AES256") {
			t.Errorf("access-log bucket encryption %v, want SSE-S3 (AES256), the only one ELB log delivery supports", enc["rule"])
		}
		pab := get("module.alb.aws_s3_bucket_public_access_block.logs[0]")
		for _, k := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			if pab[k] != true {
				t.Errorf("access-log bucket %s = %v, want true", k, pab[k])
			}
		}
	})

	t.Run("endpoint policies", func(t *testing.T) {
		own := " Allow * on * if StringEquals aws:PrincipalAccount=[123456789012] aws:ResourceAccount=[123456789012]"
		for _, c := range []struct{ addr, want string }{
			{`module.network.aws_vpc_endpoint.gateway["s3"]`, " Allow [s3:GetObject] on [arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*]"},
			{`module.network.aws_vpc_endpoint.gateway["dynamodb"]`, own},
			{`module.network.aws_vpc_endpoint.interface["sqs"]`, own},
			{`module.network.aws_vpc_endpoint.interface["logs"]`, own},
			{`module.network.aws_vpc_endpoint.interface["ecr.dkr"]`, own},
			{`module.network.aws_vpc_endpoint.interface["ecr.api"]`, own + " Allow [ecr:GetAuthorizationToken] on * if StringEquals aws:PrincipalAccount=[123456789012]"},
		} {
			var doc struct {
				Statement []struct {
					Effect    string
					Principal any
					Action    any
					Resource  any
					Condition map[string]map[string]stringList
				}
			}
			jsonAttr(t, get(c.addr), "policy", &doc)
			got := ""
			for _, st := range doc.Statement {
				if st.Principal != "*" {
					t.Errorf("%s: principal %v, want * narrowed by conditions", c.addr, st.Principal)
				}
				got += fmt.Sprintf(" %s %v on %v", st.Effect, st.Action, st.Resource)
				if len(st.Condition) > 0 {
					got += " if" + conditions(st.Condition)
				}
			}
			if got != c.want {
				t.Errorf("%s policy:\n got%s\nwant%s", c.addr, got, c.want)
			}
		}
	})

	t.Run("flow logs and default security group", func(t *testing.T) {
		fl := get("module.network.aws_flow_log.this")
		lg := get("module.network.aws_cloudwatch_log_group.flow")
		got := fmt.Sprintf("%v to %v, group %v kept %v days", fl["traffic_type"], fl["log_destination_type"], lg["name"], lg["retention_in_days"])
		if want := "ALL to cloud-watch-logs, group /vpc/conveyor/flow-logs kept 90 days"; got != want {
			t.Errorf("flow logs:\n got %s\nwant %s", got, want)
		}
		var trust struct {
			Statement []struct {
				Principal struct{ Service string }
				Condition map[string]map[string]stringList
			}
		}
		jsonAttr(t, get("module.network.aws_iam_role.flow"), "assume_role_policy", &trust)
		if got, want := trust.Statement[0].Principal.Service+conditions(trust.Statement[0].Condition),
			"vpc-flow-logs.amazonaws.com ArnLike aws:SourceArn=[arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*] StringEquals aws:SourceAccount=[123456789012]"; got != want {
			t.Errorf("flow-log role trust:\n got %s\nwant %s", got, want)
		}
		// The rules are computed (the provider strips what AWS put there), so
		// the plan may not know them; the apply test reads them back empty.
		sg := get("module.network.aws_default_security_group.this")
		if in, _ := sg["ingress"].([]any); len(in) != 0 {
			t.Errorf("default security group ingress %v, want none", in)
		}
		if eg, _ := sg["egress"].([]any); len(eg) != 0 {
			t.Errorf("default security group egress %v, want none", eg)
		}
	})

	t.Run("creation order", func(t *testing.T) {
		// depends_on is configuration, not a planned value: read it from the
		// plan's configuration section.
		svcMod := plan.Config.RootModule.ModuleCalls["service"]
		if svcMod == nil {
			t.Fatal("the configuration has no module \"service\"")
		}
		var deps []string
		for _, r := range svcMod.Module.Resources {
			if r.Address == "aws_ecs_service.this" {
				deps = r.DependsOn
			}
		}
		sort.Strings(deps)
		want := []string{"aws_iam_role_policy.execution", "aws_iam_role_policy.task", "aws_vpc_security_group_egress_rule.endpoints",
			"aws_vpc_security_group_egress_rule.gateway_endpoints", "aws_vpc_security_group_ingress_rule.container"}
		if !slices.Equal(deps, want) {
			t.Errorf("aws_ecs_service.this depends_on %v, want %v", deps, want)
		}
		alb := plan.Config.RootModule.ModuleCalls["alb"]
		if alb == nil {
			t.Fatal("the configuration has no module \"alb\"")
		}
		if o := alb.Module.Outputs["target_group_arn"]; o == nil || !slices.Equal(o.DependsOn, []string{"aws_lb_listener.https"}) {
			t.Errorf("module alb output target_group_arn must depend on the listener (ECS refuses a target group without a load balancer), got %+v", o)
		}
	})
}

// conditions renders a policy condition block in a stable order.
func conditions(c map[string]map[string]stringList) string {
	var ops []string
	for op := range c {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	out := ""
	for _, op := range ops {
		out += " " + op
		var keys []string
		for k := range c[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out += fmt.Sprintf(" %s=%v", k, []string(c[op][k]))
		}
	}
	return out
}
