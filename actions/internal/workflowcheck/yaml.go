package workflowcheck

import (
	"os"
	"regexp"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Pair is one key and value of a YAML mapping.
type Pair struct{ K, V *yaml.Node }

// Pairs returns the entries of a mapping node (nil for anything else).
func Pairs(n *yaml.Node) []Pair {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]Pair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, Pair{n.Content[i], n.Content[i+1]})
	}
	return out
}

// Get returns the key and value nodes of key in mapping n, or nils.
func Get(n *yaml.Node, key string) (k, v *yaml.Node) {
	for _, kv := range Pairs(n) {
		if kv.K.Value == key {
			return kv.K, kv.V
		}
	}
	return nil, nil
}

// Items returns the elements of a sequence node (nil for anything else).
func Items(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// WalkScalars calls f on every scalar under n, in document order.
func WalkScalars(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		f(n)
	}
	for _, c := range n.Content {
		WalkScalars(c, f)
	}
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// LoadFile parses one YAML file whose top level must be a mapping. A parse
// error comes back as a Finding of rule "parse" at the line yaml.v3 names.
func LoadFile(p, rel string) (*yaml.Node, *Finding) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, &Finding{File: rel, Rule: ruleParse, Msg: err.Error()}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		line := 1
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		return nil, &Finding{File: rel, Line: line, Rule: ruleParse, Msg: err.Error()}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &Finding{File: rel, Line: 1, Rule: ruleParse, Msg: "not a YAML mapping"}
	}
	return doc.Content[0], nil
}

// exprs returns the bodies of the ${{ }} expressions in s.
func exprs(s string) []string {
	var out []string
	for _, m := range exprRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
