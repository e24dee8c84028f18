package policycheck

import (
	"bytes"
	"os"
	"regexp"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	"github.com/hashicorp/hcl/v2"
)

// ignoreRE is an inline suppression: `# policy-check:ignore IAM003 reason`
// (also after //), on the finding's line or on the comment lines directly
// above it. Several rules are comma-separated.
var ignoreRE = regexp.MustCompile(`(?:#|//)\s*policy-check:ignore\s+([A-Za-z0-9_,]+)[ \t]*(.*)$`)

type ignore struct {
	rules  map[string]bool
	reason string
	line   int
	col    int
}

// Suppress marks each finding that an inline comment suppresses with the
// comment's reason. A suppression without a reason suppresses nothing and
// is itself an error (IAM014): a reviewed exception must say why.
func Suppress(fs []Finding) []Finding {
	files := map[string][]string{}
	lines := func(name string) []string {
		if l, ok := files[name]; ok {
			return l
		}
		b, err := os.ReadFile(name)
		if err != nil || strings.HasSuffix(name, ".json") {
			files[name] = nil
			return nil
		}
		l := strings.Split(string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))), "\n")
		files[name] = l
		return l
	}
	parse := func(src []string, n int) (ignore, bool) {
		if n < 1 || n > len(src) {
			return ignore{}, false
		}
		m := ignoreRE.FindStringSubmatchIndex(src[n-1])
		if m == nil {
			return ignore{}, false
		}
		line := src[n-1]
		ig := ignore{rules: map[string]bool{}, reason: strings.TrimSpace(line[m[4]:m[5]]), line: n, col: m[0] + 1}
		for _, r := range strings.Split(line[m[2]:m[3]], ",") {
			ig.rules[strings.ToUpper(strings.TrimSpace(r))] = true
		}
		return ig, true
	}
	var bad []Finding
	reported := map[[2]any]bool{}
	meta := policyrules.InvalidSuppression()
	for i, f := range fs {
		src := lines(f.Range.Filename)
		if src == nil {
			continue
		}
		var cands []ignore
		if ig, ok := parse(src, f.Range.Start.Line); ok {
			cands = append(cands, ig)
		}
		for n := f.Range.Start.Line - 1; n >= 1; n-- {
			t := strings.TrimSpace(src[n-1])
			if !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "//") {
				break
			}
			if ig, ok := parse(src, n); ok {
				cands = append(cands, ig)
			}
		}
		for _, ig := range cands {
			if !ig.rules[f.Rule] {
				continue
			}
			if ig.reason == "" {
				k := [2]any{f.Range.Filename, ig.line}
				if !reported[k] {
					reported[k] = true
					pos := hcl.Pos{Line: ig.line, Column: ig.col}
					bad = append(bad, Finding{Rule: meta.ID, Name: meta.Name, Severity: meta.Severity,
						Message: "policy-check:ignore " + f.Rule + " has no reason, so it suppresses nothing; write why the finding is accepted after the rule id",
						Range:   hcl.Range{Filename: f.Range.Filename, Start: pos, End: pos}})
				}
				continue
			}
			fs[i].Suppressed = ig.reason
			break
		}
	}
	return append(fs, bad...)
}
