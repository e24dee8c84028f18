package iampolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestParseKeepsThePositionOfEveryElement(t *testing.T) {
	src := `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "A", "Effect": "Allow",
     "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
     "Resource": "arn:aws:sqs:us-east-1:1:q",
     "Condition": {"StringEquals": {"aws:SourceAccount": ["1", 2]}}}
  ]
}`
	p, err := Parse([]byte(src), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) != 0 {
		t.Fatalf("unexpected problems: %+v", p.Problems)
	}
	st := p.Statements[0]
	if a := st.Action[1]; a.Value != "sqs:ReceiveMessage" || a.Range.Start.Line != 5 || a.Range.Start.Column != 36 {
		t.Errorf("second action at %d:%d, want 5:36", a.Range.Start.Line, a.Range.Start.Column)
	}
	if r := st.Resource[0]; r.Range.Start.Line != 6 || r.Range.Start.Column != 18 {
		t.Errorf("resource at %d:%d, want 6:18", r.Range.Start.Line, r.Range.Start.Column)
	}
	if c := st.ConditionOn("AWS:SourceAccount"); len(c) != 1 || len(c[0].Values) != 2 || c[0].Values[1].Value != "2" {
		t.Errorf("condition values read as %+v", c)
	}
}

func TestLocatorOffsetsAStringInsideAFile(t *testing.T) {
	src := []byte(`{"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "Version": "2012-10-17"}`)
	n, err := ParseJSON(src, "main.tf", LineLocator(src, hcl.Pos{Line: 10, Column: 12}))
	if err != nil {
		t.Fatal(err)
	}
	p := FromNode(n)
	if a := p.Statements[0].Action[0]; a.Range.Start.Line != 10 || a.Range.Start.Column != 12+44 {
		t.Errorf("action at %d:%d, want 10:56", a.Range.Start.Line, a.Range.Start.Column)
	}
}

func TestMalformedPoliciesAreProblemsWithPositions(t *testing.T) {
	cases := []struct {
		name, src, want string
		line, col       int
	}{
		{"lowercase effect", `{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}`, "exactly Allow or Deny", 1, 48},
		{"missing action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`, "no Action", 1, 38},
		{"both action and notaction", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}]}`, "both Action and NotAction", 1, 71},
		{"unknown key", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Actions":"s3:GetObject","Resource":"*"}]}`, `unknown statement key "Actions"`, 1, 56},
		{"no statement", `{"Version":"2012-10-17"}`, "no Statement", 1, 1},
		{"statement not an object", `{"Version":"2012-10-17","Statement":["s3:GetObject"]}`, "must be a JSON object", 1, 38},
		{"principal string", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"s3:GetObject","Resource":"*"}]}`, "Principal string", 1, 68},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.src), "p.json")
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range p.Problems {
				if strings.Contains(pr.Message, tc.want) {
					if pr.Range.Start.Line != tc.line || pr.Range.Start.Column != tc.col {
						t.Errorf("%q at %d:%d, want %d:%d", tc.want, pr.Range.Start.Line, pr.Range.Start.Column, tc.line, tc.col)
					}
					return
				}
			}
			t.Errorf("no problem %q in %+v", tc.want, p.Problems)
		})
	}
}

func TestInvalidJSONIsAnErrorWithAPosition(t *testing.T) {
	for _, src := range []string{`{"Version": "2012-10-17",`, "{\n  \"Statement\": [1, 2,]\n}", `{"a" 1}`, `"\x"`, `{"a": tru}`, "[" + strings.Repeat("[", 300)} {
		_, err := Parse([]byte(src), "bad.json")
		var e *Error
		if !errors.As(err, &e) || e.Range.Start.Line < 1 || !strings.HasPrefix(err.Error(), "bad.json:") {
			t.Errorf("%q: want a positioned error, got %v", src, err)
		}
	}
}

// FuzzParsePolicy: no input panics, and bad input is reported with a
// position inside the input.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["iam:*"],"Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}`,
		`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"sqs:SendMessage"}]}`,
		`{"Statement":[{"Principal":"*","Condition":[]}]}`,
		"{\"a\":\"\\u00e9\\n\"}",
		`[1, -2.5e3, true, false, null]`,
		`{`, `"`, ``, `{"Statement":[[]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse(src, "f.json")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error without a position: %v", err)
			}
			if e.Range.Start.Line < 1 || e.Range.Start.Column < 1 {
				t.Fatalf("position %d:%d out of range", e.Range.Start.Line, e.Range.Start.Column)
			}
			return
		}
		for _, pr := range p.Problems {
			if pr.Range.Start.Line < 1 {
				t.Fatalf("problem without a position: %+v", pr)
			}
		}
	})
}
