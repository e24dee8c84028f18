// Package policyreport writes policy-check findings as text, JSON, SARIF
// 2.1.0 (GitHub code scanning) or GitHub Actions annotations with a step
// summary.
package policyreport

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
)

// Relative rewrites file names relative to base (the workspace), so
// annotations and SARIF locations match the repository's paths.
func Relative(fs []policyrules.Finding, base string) []policyrules.Finding {
	out := make([]policyrules.Finding, len(fs))
	for i, f := range fs {
		if filepath.IsAbs(f.Range.Filename) {
			if rel, err := filepath.Rel(base, f.Range.Filename); err == nil && !strings.HasPrefix(rel, "..") {
				f.Range.Filename = rel
			}
		} else {
			f.Range.Filename = filepath.Clean(f.Range.Filename)
		}
		out[i] = f
	}
	return out
}

// Summary is what a run looked at, for the last line of the text report
// and the step summary.
type Summary struct {
	Roles, Documents, ResourcePolicies, Unresolved int
}

// Formats are the report formats, in the order usage lists them.
var Formats = []string{"text", "json", "sarif", "github"}

// CheckFormat rejects a format that Write does not know.
func CheckFormat(format string) error {
	for _, f := range Formats {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("--format %q: want %s", format, strings.Join(Formats, ", "))
}

// Write writes the findings in a format (github: as annotations and a step
// summary through r).
func Write(format string, w io.Writer, r *gha.Runner, fs []policyrules.Finding, sum Summary, version string) error {
	switch format {
	case "text":
		return Text(w, fs, sum)
	case "json":
		return JSON(w, fs)
	case "sarif":
		return SARIF(w, fs, version)
	case "github":
		return github(r, fs, &sum)
	}
	return CheckFormat(format)
}

// Text writes one line per finding: file:line:col: severity: message
// [rule], suppressed findings with their reason, and a summary of what was
// checked.
func Text(w io.Writer, fs []policyrules.Finding, sum Summary) error {
	suppressed := 0
	for _, f := range fs {
		role := ""
		if f.Role != "" {
			role = " (" + f.Role + ")"
		}
		sev := string(f.Severity)
		if f.Suppressed != "" {
			sev = "suppressed " + sev
			suppressed++
		}
		if _, err := fmt.Fprintf(w, "%s:%d:%d: %s: %s%s [%s %s]%s%s\n", f.Range.Filename, f.Range.Start.Line, f.Range.Start.Column,
			sev, f.Message, role, f.Rule, f.Name, instances(f), reason(f)); err != nil {
			return err
		}
	}
	e, wn := count(fs)
	_, err := fmt.Fprintf(w, "%d error(s), %d warning(s), %d suppressed; checked %d roles, %d policy documents, %d resource policies; %d values unresolved\n",
		e, wn, suppressed, sum.Roles, sum.Documents, sum.ResourcePolicies, sum.Unresolved)
	return err
}

func instances(f policyrules.Finding) string {
	if len(f.Instances) == 0 {
		return ""
	}
	const show = 3
	list := f.Instances
	more := ""
	if len(list) > show {
		list, more = list[:show], fmt.Sprintf(", and %d more", len(f.Instances)-show)
	}
	return fmt.Sprintf(" also for %s%s", strings.Join(list, "; "), more)
}

func reason(f policyrules.Finding) string {
	if f.Suppressed == "" {
		return ""
	}
	return " (reason: " + f.Suppressed + ")"
}

// count counts findings that are not suppressed.
// Errors counts the error-level findings that are not suppressed.
func Errors(fs []policyrules.Finding) int {
	e, _ := count(fs)
	return e
}

func count(fs []policyrules.Finding) (errors, warnings int) {
	for _, f := range fs {
		switch {
		case f.Suppressed != "":
		case f.Severity == policyrules.Error:
			errors++
		default:
			warnings++
		}
	}
	return
}

// JSONFinding is the JSON form of one finding.
type JSONFinding struct {
	Rule     string `json:"rule"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Role     string `json:"role"`
	Message  string `json:"message"`
	// Instances and Suppressed: see policyrules.Finding.
	Instances  []string `json:"instances,omitempty"`
	Suppressed string   `json:"suppressed,omitempty"`
}

// JSON writes an array with one object per finding.
func JSON(w io.Writer, fs []policyrules.Finding) error {
	out := make([]JSONFinding, 0, len(fs))
	for _, f := range fs {
		out = append(out, JSONFinding{Rule: f.Rule, Name: f.Name, Severity: string(f.Severity), File: f.Range.Filename,
			Line: f.Range.Start.Line, Column: f.Range.Start.Column, Role: f.Role, Message: f.Message,
			Instances: f.Instances, Suppressed: f.Suppressed})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// SARIF writes a SARIF 2.1.0 log with one run.
func SARIF(w io.Writer, fs []policyrules.Finding, version string) error {
	type region struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn"`
		EndLine     int `json:"endLine,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
	type msg struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription msg            `json:"shortDescription"`
		DefaultConfig    map[string]any `json:"defaultConfiguration"`
	}
	var rules []rule
	index := map[string]int{}
	for i, r := range policyrules.All() {
		m := r.Meta()
		index[m.ID] = i
		rules = append(rules, rule{ID: m.ID, Name: m.Name, ShortDescription: msg{m.Summary},
			DefaultConfig: map[string]any{"level": level(m.Severity)}})
	}
	var results []map[string]any
	for _, f := range fs {
		reg := region{StartLine: max(1, f.Range.Start.Line), StartColumn: max(1, f.Range.Start.Column)}
		if f.Range.End.Line >= reg.StartLine && f.Range.End.Column > 0 {
			reg.EndLine, reg.EndColumn = f.Range.End.Line, f.Range.End.Column
		}
		msgText := f.Message
		if f.Role != "" {
			msgText += " (role " + f.Role + ")"
		}
		if len(f.Instances) > 0 {
			msgText += "; also for " + strings.Join(f.Instances, "; ")
		}
		res := map[string]any{
			"ruleId":    f.Rule,
			"ruleIndex": index[f.Rule],
			"level":     level(f.Severity),
			"message":   msg{msgText},
			"locations": []any{map[string]any{"physicalLocation": map[string]any{
				"artifactLocation": map[string]any{"uri": filepath.ToSlash(f.Range.Filename), "uriBaseId": "%SRCROOT%"},
				"region":           reg,
			}}},
		}
		if f.Suppressed != "" {
			// SARIF 2.1.0 §3.35: a suppression in the source, with its
			// justification; code scanning shows it as dismissed.
			res["suppressions"] = []any{map[string]any{"kind": "inSource", "justification": f.Suppressed}}
		}
		results = append(results, res)
	}
	if results == nil {
		results = []map[string]any{}
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "conveyor-policy-check", "version": version,
				"informationUri": "https://github.com/conveyor-dev/conveyor",
				"rules":          rules,
			}},
			"results": results,
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func level(s policyrules.Severity) string {
	if s == policyrules.Error {
		return "error"
	}
	return "warning"
}

// GitHub writes ::error/::warning annotations and a step summary table.
func GitHub(r *gha.Runner, fs []policyrules.Finding) error { return github(r, fs, nil) }

func github(r *gha.Runner, fs []policyrules.Finding, sum *Summary) error {
	suppressed := 0
	for _, f := range fs {
		if f.Suppressed != "" {
			suppressed++
			continue
		}
		a := gha.Annotation{File: f.Range.Filename, Line: f.Range.Start.Line, Col: f.Range.Start.Column,
			Title: f.Rule + " " + f.Name, Message: f.Message}
		if f.Role != "" {
			a.Message += " (role " + f.Role + ")"
		}
		if f.Severity == policyrules.Error {
			r.Error(a)
		} else {
			r.Warning(a)
		}
	}
	e, w := count(fs)
	var b strings.Builder
	fmt.Fprintf(&b, "## IAM policy check\n\n%d error(s), %d warning(s), %d suppressed", e, w, suppressed)
	if sum != nil {
		fmt.Fprintf(&b, "; checked %d roles, %d policy documents, %d resource policies; %d values unresolved",
			sum.Roles, sum.Documents, sum.ResourcePolicies, sum.Unresolved)
	}
	b.WriteString("\n\n")
	if len(fs) > 0 {
		b.WriteString("| severity | rule | location | role | message |\n|---|---|---|---|---|\n")
		for _, f := range fs {
			sev := string(f.Severity)
			if f.Suppressed != "" {
				sev = "suppressed (" + f.Suppressed + ")"
			}
			fmt.Fprintf(&b, "| %s | %s %s | `%s:%d:%d` | %s | %s |\n", cell(sev), f.Rule, f.Name, f.Range.Filename,
				f.Range.Start.Line, f.Range.Start.Column, cell(f.Role), cell(f.Message))
		}
	}
	return r.Summary(b.String())
}

func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
