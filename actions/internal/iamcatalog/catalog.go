// Package iamcatalog is a vendored, dated snapshot of AWS's service
// authorization data, trimmed to what the policy checker needs: every
// action, the resource types it accepts (none means it accepts only "*"),
// and its access level where the source has one. It expands IAM wildcards
// the way IAM does, case-insensitively.
package iamcatalog

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

//go:generate bash refresh.sh

//go:embed catalog.tsv.gz
var snapshot []byte

// Action is one IAM action.
type Action struct {
	Name      string   // lower-case "service:action"
	Resources []string // resource types; empty means the action accepts only "*"
	Access    string   // Read, List, Write, Permissions management, Tagging; "" if unknown
	// Display is the name in AWS's case (ec2:RunInstances); Name if unknown.
	Display string
	// Conditions are the condition keys the action supports, lower-case,
	// with a ${TagKey}-style variable part cut off: "aws:resourcetag/".
	Conditions []string
}

// SupportsCondition reports whether the action documents key (any case;
// aws:RequestTag/team matches aws:RequestTag/${TagKey}).
func (a Action) SupportsCondition(key string) bool {
	k := strings.ToLower(key)
	for _, c := range a.Conditions {
		if k == c || (strings.HasSuffix(c, "/") && strings.HasPrefix(k, c)) {
			return true
		}
	}
	return false
}

// StarOnly reports whether the action cannot be scoped to a resource.
func (a Action) StarOnly() bool { return len(a.Resources) == 0 }

// File is the on-disk form of the snapshot.
type File struct {
	Source  string                      `json:"source"`
	Date    string                      `json:"date"`
	Actions map[string]map[string]Entry `json:"services"` // prefix -> lower-case action -> entry
}

// Entry is one action in the file.
type Entry struct {
	Resources  []string `json:"r,omitempty"`
	Access     string   `json:"a,omitempty"`
	Name       string   `json:"n,omitempty"` // in AWS's case, without the prefix
	Conditions []string `json:"c,omitempty"`
}

// Catalog answers questions about IAM actions.
type Catalog struct {
	Source  string
	Date    string
	actions map[string]Action // "service:action" lower-case
	names   []string          // sorted keys of actions
	byPfx   map[string][]string
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalog
	defaultErr  error
)

// Default returns the vendored snapshot.
func Default() *Catalog {
	defaultOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(snapshot))
		if err != nil {
			defaultErr = err
			return
		}
		defaultCat, defaultErr = Read(zr)
	})
	if defaultErr != nil {
		// The snapshot is embedded at build time; a broken one is a build bug.
		panic(fmt.Sprintf("iamcatalog: embedded catalog.tsv.gz is unreadable: %v; rerun go generate ./actions/internal/iamcatalog", defaultErr))
	}
	return defaultCat
}

// Read loads a catalogue in its on-disk form (uncompressed): comment lines
// "# source: ..." and "# date: ...", then one line per action, sorted:
// "service:action<TAB>resource types, comma-separated<TAB>access level".
// A flat text format, because decoding 20,000 actions from JSON took most
// of a policy-check run.
func Read(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading IAM catalogue: %w", err)
	}
	c := &Catalog{actions: make(map[string]Action, 21000), byPfx: map[string][]string{}}
	c.names = make([]string, 0, 21000)
	for n, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "# ") {
			k, v, _ := strings.Cut(line[2:], ": ")
			switch k {
			case "source":
				c.Source = v
			case "date":
				c.Date = v
			}
			continue
		}
		f := strings.Split(line, "\t")
		name := f[0]
		i := strings.IndexByte(name, ':')
		if len(f) < 3 || i <= 0 {
			return nil, fmt.Errorf("IAM catalogue line %d: want service:action<TAB>resources<TAB>access[<TAB>Name<TAB>conditions], got %q", n+1, line)
		}
		a := Action{Name: name, Access: f[2], Display: name}
		if f[1] != "" {
			a.Resources = strings.Split(f[1], ",")
		}
		if len(f) > 3 && f[3] != "" {
			a.Display = name[:i+1] + f[3]
		}
		if len(f) > 4 && f[4] != "" {
			a.Conditions = strings.Split(f[4], ",")
		}
		c.actions[name] = a
		c.names = append(c.names, name)
		c.byPfx[name[:i]] = append(c.byPfx[name[:i]], name)
	}
	if !sort.StringsAreSorted(c.names) {
		sort.Strings(c.names)
		for _, v := range c.byPfx {
			sort.Strings(v)
		}
	}
	return c, nil
}

// Write stores a File in the form Read reads.
func Write(w io.Writer, f File) error {
	var lines []string
	for pfx, acts := range f.Actions {
		for name, e := range acts {
			lines = append(lines, strings.ToLower(pfx)+":"+strings.ToLower(name)+"\t"+strings.Join(e.Resources, ",")+"\t"+e.Access+
				"\t"+e.Name+"\t"+strings.Join(e.Conditions, ","))
		}
	}
	sort.Strings(lines)
	if _, err := fmt.Fprintf(w, "# source: %s\n# date: %s\n", f.Source, f.Date); err != nil {
		return err
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n")+"\n")
	return err
}

// New builds a Catalog from a File.
func New(f File) *Catalog {
	c := &Catalog{Source: f.Source, Date: f.Date, actions: map[string]Action{}, byPfx: map[string][]string{}}
	for pfx, acts := range f.Actions {
		pfx = strings.ToLower(pfx)
		for name, e := range acts {
			full := pfx + ":" + strings.ToLower(name)
			a := Action{Name: full, Resources: e.Resources, Access: e.Access, Display: full, Conditions: e.Conditions}
			if e.Name != "" {
				a.Display = pfx + ":" + e.Name
			}
			c.actions[full] = a
			c.names = append(c.names, full)
			c.byPfx[pfx] = append(c.byPfx[pfx], full)
		}
	}
	sort.Strings(c.names)
	for _, v := range c.byPfx {
		sort.Strings(v)
	}
	return c
}

// Len is the number of actions.
func (c *Catalog) Len() int { return len(c.names) }

// Lookup finds an action by name, case-insensitively.
func (c *Catalog) Lookup(action string) (Action, bool) {
	a, ok := c.actions[strings.ToLower(action)]
	return a, ok
}

// KnownService reports whether the service prefix exists.
func (c *Catalog) KnownService(prefix string) bool {
	_, ok := c.byPfx[strings.ToLower(prefix)]
	return ok
}

// IsWildcard reports whether an action pattern contains * or ?.
func IsWildcard(pattern string) bool { return strings.ContainsAny(pattern, "*?") }

// Expand returns every catalogued action (lower-case) that the pattern
// matches, as IAM matches it: case-insensitive, * for any run of characters,
// ? for one. A pattern without wildcards returns itself if known.
func (c *Catalog) Expand(pattern string) []string {
	p := strings.ToLower(pattern)
	if !IsWildcard(p) {
		if _, ok := c.actions[p]; ok {
			return []string{p}
		}
		return nil
	}
	if p == "*" {
		return c.names
	}
	candidates := c.names
	if i := strings.IndexByte(p, ':'); i >= 0 && !IsWildcard(p[:i]) {
		candidates = c.byPfx[p[:i]]
	}
	var out []string
	for _, n := range candidates {
		if Match(p, n) {
			out = append(out, n)
		}
	}
	return out
}

// Match reports whether s matches the IAM glob pattern (both compared
// case-insensitively).
func Match(pattern, s string) bool {
	return match(strings.ToLower(pattern), strings.ToLower(s))
}

// match is an iterative glob matcher with single-star backtracking, linear
// in practice and safe on hostile input (no recursion).
func match(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star = pi
			mark = si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Display returns an action in AWS's case when catalogued, else as given.
func (c *Catalog) Display(action string) string {
	if a, ok := c.actions[strings.ToLower(action)]; ok {
		return a.Display
	}
	return action
}
