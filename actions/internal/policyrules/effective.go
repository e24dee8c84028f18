package policyrules

import (
	"regexp"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
)

// denies returns every Deny statement that applies alongside d: those in d
// and in the other documents of the roles d grants to.
func (c *Check) denies(d *Doc) []*iampolicy.Statement {
	var out []*iampolicy.Statement
	docs := []*Doc{d}
	for _, r := range c.Subject.Roles {
		for _, rn := range d.Roles {
			if r.Address == rn {
				docs = append(docs, r.Docs...)
			}
		}
	}
	seen := map[*Doc]bool{}
	for _, x := range docs {
		if seen[x] {
			continue
		}
		seen[x] = true
		for i := range x.Policy.Statements {
			if x.Policy.Statements[i].IsDeny() {
				out = append(out, &x.Policy.Statements[i])
			}
		}
	}
	return out
}

// denied reports whether an unconditional Deny removes action on every
// resource in resources. A Deny with a Condition, a NotResource, or a
// narrower Resource does not cancel the Allow: it subtracts only what it
// really covers.
func denied(denies []*iampolicy.Statement, action string, resources []iampolicy.Str) bool {
	for _, d := range denies {
		if d.HasCondition() || d.HasNotResource || d.HasPrincipal || d.HasNotPrincipal {
			continue
		}
		if !actionCovered(d, action) {
			continue
		}
		if coversAll(d.Resource, resources) {
			return true
		}
	}
	return false
}

func actionCovered(st *iampolicy.Statement, action string) bool {
	if st.HasNotAction {
		for _, na := range st.NotAction {
			if !na.Literal() || iamcatalog.Match(na.Value, action) {
				return false
			}
		}
		return true
	}
	for _, a := range st.Action {
		if a.Literal() && iamcatalog.Match(a.Value, action) {
			return true
		}
	}
	return false
}

func coversAll(deny, allow []iampolicy.Str) bool {
	if len(allow) == 0 {
		return false
	}
	for _, r := range allow {
		ok := false
		for _, d := range deny {
			if d.Literal() && (d.Value == "*" || (r.Literal() && iamcatalog.Match(d.Value, r.Value)) || d.Value == r.Value) {
				ok = true
				break
			}
			if !d.Literal() && d.Value == r.Value {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// expand returns the catalogued actions an element grants, minus those an
// unconditional Deny removes. Unknown actions expand to themselves.
func (c *Check) expand(a iampolicy.Str, st *iampolicy.Statement, denies []*iampolicy.Statement) []string {
	var acts []string
	if iamcatalog.IsWildcard(a.Value) {
		acts = c.Catalog.Expand(a.Value)
	} else {
		acts = []string{strings.ToLower(a.Value)}
	}
	if len(denies) == 0 {
		return acts // shared with the catalogue: callers only read it
	}
	var out []string
	for _, x := range acts {
		if !denied(denies, x, st.Resource) {
			out = append(out, x)
		}
	}
	return out
}

var typedAll = regexp.MustCompile(`^[A-Za-z0-9_.-]+[/:]\*$`)

// effectivelyStar reports whether a resource names every resource of its
// kind: "*", an ARN with a wildcard service or a resource part of "*",
// "type/*" or "type:*". Object ARNs like ${bucket_arn}/* and
// log-group:NAME:* are scoped and pass.
func effectivelyStar(r iampolicy.Str) bool {
	if !r.Literal() {
		return false
	}
	v := r.Value
	if v == "*" || v == "arn:*" {
		return true
	}
	if !strings.HasPrefix(strings.ToLower(v), "arn:") {
		return false
	}
	parts := strings.SplitN(v, ":", 6)
	if len(parts) < 6 {
		return len(parts) >= 3 && parts[len(parts)-1] == "*"
	}
	if parts[2] == "*" {
		return true
	}
	res := parts[5]
	if res == "*" || res == "*/*" {
		return true
	}
	// In S3 the resource part is the bucket name: bucket/* is scoped.
	return parts[2] != "s3" && typedAll.MatchString(res)
}

// unresolvedStr reports a string whose value is unknown or embeds an
// unknown reference.
func unresolvedStr(s iampolicy.Str) bool {
	if s.Unknown {
		return true
	}
	for _, sym := range s.Symbols {
		if strings.HasPrefix(sym, "?") {
			return true
		}
	}
	return false
}
