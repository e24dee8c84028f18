package iamcatalog

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSnapshotIsDatedAndComplete(t *testing.T) {
	c := Default()
	if c.Date == "" || c.Source == "" {
		t.Fatalf("snapshot has no date or source: %q %q", c.Date, c.Source)
	}
	if c.Len() < 15000 {
		t.Fatalf("snapshot has %d actions; the published catalogue has about 20,000", c.Len())
	}
	for _, a := range []string{"dynamodb:PutItem", "sqs:SendMessage", "sqs:ChangeMessageVisibility", "ecr:BatchGetImage", "iam:PassRole", "logs:PutLogEvents"} {
		if act, ok := c.Lookup(a); !ok || act.StarOnly() {
			t.Errorf("%s missing or star-only: %+v", a, act)
		}
	}
	for _, a := range []string{"ecr:GetAuthorizationToken", "sts:GetCallerIdentity", "sqs:ListQueues"} {
		if act, ok := c.Lookup(a); !ok || !act.StarOnly() {
			t.Errorf("%s should accept only \"*\": %+v", a, act)
		}
	}
}

func TestExpandIsCaseInsensitiveLikeIAM(t *testing.T) {
	c := Default()
	cases := []struct {
		pattern  string
		contains []string
		excludes []string
	}{
		{"dynamodb:Get*", []string{"dynamodb:getitem", "dynamodb:getrecords"}, []string{"dynamodb:putitem"}},
		{"DYNAMODB:get*", []string{"dynamodb:getitem"}, nil},
		{"dynamodb:*Item", []string{"dynamodb:getitem", "dynamodb:putitem", "dynamodb:deleteitem", "dynamodb:updateitem"}, []string{"dynamodb:query"}},
		{"dynamodb:PutIte?", []string{"dynamodb:putitem"}, []string{"dynamodb:getitem"}},
		{"*:PassRole", []string{"iam:passrole"}, nil},
		{"sqs:*", []string{"sqs:sendmessage", "sqs:purgequeue"}, []string{"sns:publish"}},
	}
	for _, tc := range cases {
		got := c.Expand(tc.pattern)
		for _, w := range tc.contains {
			if !slices.Contains(got, w) {
				t.Errorf("%s does not expand to %s", tc.pattern, w)
			}
		}
		for _, w := range tc.excludes {
			if slices.Contains(got, w) {
				t.Errorf("%s must not expand to %s", tc.pattern, w)
			}
		}
	}
	if n := len(c.Expand("dynamodb:PutIte?")); n != 1 {
		t.Errorf("PutIte? matched %d actions, want 1", n)
	}
	if len(c.Expand("*")) != c.Len() {
		t.Error(`"*" must match every action`)
	}
	if c.Expand("dynamodb:GetItems") != nil || c.Expand("nosuch:*") != nil {
		t.Error("unknown actions must expand to nothing")
	}
}

func TestMatchHandlesHostilePatterns(t *testing.T) {
	if !Match("a*b*c*d", strings.Repeat("ab", 1000)+"cd") {
		t.Error("want a match")
	}
	if Match(strings.Repeat("a*", 200)+"b", strings.Repeat("a", 5000)) {
		t.Error("want no match")
	}
}

// TestRefreshReadsTheServiceReference runs the refresh against a saved copy
// of AWS's service reference served on loopback.
func TestRefreshReadsTheServiceReference(t *testing.T) {
	dir := filepath.Join("testdata", "servicereference")
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "index.json"
		if r.URL.Path != "/" {
			name = filepath.Base(r.URL.Path)
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(strings.ReplaceAll(string(b), "{{BASE}}", srv.URL)))
	}))
	defer srv.Close()
	f, err := FetchServiceReference(srv.Client(), srv.URL+"/", "2026-01-02")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	c, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if c.Date != "2026-01-02" || c.Len() != 7 {
		t.Fatalf("catalogue of %s with %d actions, want 2026-01-02 with 7", c.Date, c.Len())
	}
	want := map[string]string{"sqs:sendmessage": "Write", "sqs:listqueues": "List", "sqs:getqueueattributes": "Read",
		"sqs:addpermission": "Permissions management", "sqs:tagqueue": "Tagging"}
	for a, access := range want {
		if got, _ := c.Lookup(a); got.Access != access {
			t.Errorf("%s access %q, want %q", a, got.Access, access)
		}
	}
	if a, _ := c.Lookup("ecr:GetAuthorizationToken"); !a.StarOnly() {
		t.Error("an action without resources must be star-only")
	}
	if a, _ := c.Lookup("ECR:batchgetimage"); len(a.Resources) != 1 || a.Resources[0] != "repository" {
		t.Errorf("ecr:BatchGetImage resources %v", a.Resources)
	}

	srv.Close()
	if _, err := FetchServiceReference(http.DefaultClient, srv.URL+"/", "x"); err == nil {
		t.Error("an unreachable service reference must be an error")
	}
}

func TestFromCfnLint(t *testing.T) {
	in := `{"sqs":{"Actions":{"sendmessage":{"Resources":["queue"]},"listqueues":{}},"Resources":{}}}`
	f, err := FromCfnLint(strings.NewReader(in), "2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	c := New(f)
	if a, ok := c.Lookup("sqs:SendMessage"); !ok || a.StarOnly() {
		t.Errorf("sendmessage: %+v", a)
	}
	if a, ok := c.Lookup("sqs:ListQueues"); !ok || !a.StarOnly() {
		t.Errorf("listqueues: %+v", a)
	}
}

// The vendored catalogue knows each action's name in AWS's case and the
// condition keys it supports, with ${TagKey} parts as prefixes.
func TestDisplayNamesAndConditionKeys(t *testing.T) {
	c := Default()
	if got := c.Display("EC2:RUNINSTANCES"); got != "ec2:RunInstances" {
		t.Errorf("Display = %q, want ec2:RunInstances", got)
	}
	if got := c.Display("nosuch:Action"); got != "nosuch:Action" {
		t.Errorf("an unknown action must print as written, got %q", got)
	}
	run, _ := c.Lookup("ec2:RunInstances")
	for key, want := range map[string]bool{
		"aws:RequestTag/karpenter.sh/nodepool": true,
		"AWS:ResourceTag/team":                 true,
		"iam:AWSServiceName":                   false,
		"aws:RequestTag":                       false,
	} {
		if got := run.SupportsCondition(key); got != want {
			t.Errorf("ec2:RunInstances supports %s = %v, want %v", key, got, want)
		}
	}
	slr, _ := c.Lookup("iam:CreateServiceLinkedRole")
	if !slr.SupportsCondition("iam:AWSServiceName") {
		t.Error("iam:CreateServiceLinkedRole must support iam:AWSServiceName")
	}
}
