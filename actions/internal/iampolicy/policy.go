// Package iampolicy is the IAM policy document model the checker reasons
// about. Every string in it keeps the source range it was written at, so a
// rule can point at the exact action or resource, and values the Terraform
// evaluator could not resolve stay visible as symbols instead of becoming
// placeholders that pass.
package iampolicy

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Kind is the JSON type of a Node. Unknown is a value the evaluator could
// not compute (a variable without a value, an unsupported function).
type Kind uint8

const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
	Unknown
)

// Str is a string value with where it was written. Symbols lists the
// Terraform references embedded in Value as ${...}: they name a resource's
// attribute (an identity, such as a table's ARN) rather than unknown text.
// Unknown marks a value that could not be computed at all; Value then says
// what it was (e.g. "var.actions").
type Str struct {
	Value   string
	Range   hcl.Range
	Symbols []string
	Unknown bool
}

// Literal reports whether the string is plain text with no symbol in it.
func (s Str) Literal() bool { return !s.Unknown && len(s.Symbols) == 0 }

// Node is a JSON-shaped value with ranges. The Terraform evaluator builds
// the same tree from jsonencode() and aws_iam_policy_document, so policies
// from any source go through one reader.
type Node struct {
	Kind   Kind
	Str    Str // String, Number, Bool, Null, Unknown: the scalar
	Items  []Node
	Fields []Field
	Range  hcl.Range
}

// Field is one key of an Object node.
type Field struct {
	Key   Str
	Value Node
}

// Get returns the last field named key (IAM keeps the last duplicate).
func (n Node) Get(key string) (Node, Str, bool) {
	for i := len(n.Fields) - 1; i >= 0; i-- {
		if n.Fields[i].Key.Value == key {
			return n.Fields[i].Value, n.Fields[i].Key, true
		}
	}
	return Node{}, Str{}, false
}

// Policy is one policy document.
type Policy struct {
	Version    Str
	Statements []Statement
	Range      hcl.Range
	// Problems are structural faults found while reading: the malformed rule
	// reports them.
	Problems []Problem
}

// Problem is a fault in a document at a range.
type Problem struct {
	Range   hcl.Range
	Message string
	// Unresolved marks a value that could not be computed, as opposed to a
	// value that is wrong.
	Unresolved bool
}

// Statement is one statement with every element's range.
type Statement struct {
	Sid          Str
	Effect       Str
	HasEffect    bool
	Action       []Str
	NotAction    []Str
	Resource     []Str
	NotResource  []Str
	Principal    []Principal
	NotPrincipal []Principal
	Conditions   []Condition
	// Has* say which keys were present, so "Action": [] differs from no key.
	HasAction, HasNotAction, HasResource, HasNotResource, HasPrincipal, HasNotPrincipal bool
	// Keys holds the range of each key present, for findings about a key.
	Keys  map[string]hcl.Range
	Range hcl.Range
}

// Principal is one principal: Type is "*" (for "Principal": "*"), AWS,
// Service, Federated or CanonicalUser.
type Principal struct {
	Type  string
	Value Str
}

// Condition is one condition key under an operator.
type Condition struct {
	Operator Str
	Key      Str
	Values   []Str
}

// IsAllow reports whether the statement's effect is exactly Allow. A
// statement whose Effect is unknown is treated as Allow: fail closed.
func (s Statement) IsAllow() bool { return s.Effect.Value == "Allow" || s.Effect.Unknown }

// IsDeny reports whether the effect is exactly Deny.
func (s Statement) IsDeny() bool { return s.Effect.Value == "Deny" && !s.Effect.Unknown }

// HasCondition reports whether any condition key is present.
func (s Statement) HasCondition() bool { return len(s.Conditions) > 0 }

// ConditionOn returns the conditions on key (case-insensitive, as IAM
// treats condition key names).
func (s Statement) ConditionOn(key string) []Condition {
	var out []Condition
	for _, c := range s.Conditions {
		if strings.EqualFold(c.Key.Value, key) {
			out = append(out, c)
		}
	}
	return out
}

// Parse reads a JSON policy document from a whole file.
func Parse(src []byte, file string) (Policy, error) {
	n, err := ParseJSON(src, file, nil)
	if err != nil {
		return Policy{}, err
	}
	return FromNode(n), nil
}

// FromNode reads a policy from a Node tree. It never fails: what is wrong
// becomes a Problem with a range, so the rules report every fault at once.
func FromNode(n Node) Policy {
	var r reader
	p := Policy{Range: n.Range}
	switch n.Kind {
	case Object:
	case Unknown:
		if strings.HasPrefix(n.Str.Value, "the policy ") {
			// the evaluator already wrote the whole sentence
			r.unresolved(n.Range, "%s", n.Str.Value)
		} else {
			r.unresolved(n.Range, "the policy document is %s, which could not be resolved", n.Str.Value)
		}
		p.Problems = r.problems
		return p
	default:
		r.add(n.Range, "a policy document must be a JSON object")
		p.Problems = r.problems
		return p
	}
	for _, f := range n.Fields {
		switch f.Key.Value {
		case "Version":
			p.Version = r.scalar(f.Value, "Version")
			if p.Version.Literal() && p.Version.Value != "2012-10-17" && p.Version.Value != "2008-10-17" {
				r.add(f.Value.Range, fmt.Sprintf("Version %q is not 2012-10-17", p.Version.Value))
			}
		case "Id":
		case "Statement":
			switch f.Value.Kind {
			case Object:
				p.Statements = append(p.Statements, r.statement(f.Value))
			case Array:
				for _, it := range f.Value.Items {
					if it.Kind != Object {
						if it.Kind == Unknown {
							r.unresolved(it.Range, "a statement is %s, which could not be resolved", it.Str.Value)
						} else {
							r.add(it.Range, "a statement must be a JSON object")
						}
						continue
					}
					p.Statements = append(p.Statements, r.statement(it))
				}
			case Unknown:
				r.unresolved(f.Value.Range, "Statement is %s, which could not be resolved", f.Value.Str.Value)
			default:
				r.add(f.Value.Range, "Statement must be an object or an array of objects")
			}
		default:
			r.add(f.Key.Range, fmt.Sprintf("unknown policy key %q (keys are case-sensitive: Version, Id, Statement)", f.Key.Value))
		}
	}
	if _, _, ok := n.Get("Statement"); !ok {
		r.add(n.Range, "the policy has no Statement")
	}
	p.Problems = r.problems
	return p
}

type reader struct{ problems []Problem }

func (r *reader) add(rng hcl.Range, msg string) {
	r.problems = append(r.problems, Problem{Range: rng, Message: msg})
}

func (r *reader) unresolved(rng hcl.Range, format string, args ...any) {
	r.problems = append(r.problems, Problem{Range: rng, Message: fmt.Sprintf(format, args...), Unresolved: true})
}

// scalar reads a string-like value (numbers and booleans as their text).
func (r *reader) scalar(n Node, what string) Str {
	switch n.Kind {
	case String, Number, Bool:
		return n.Str
	case Unknown:
		s := n.Str
		s.Unknown = true
		s.Range = n.Range
		return s
	}
	r.add(n.Range, what+" must be a string")
	return Str{Range: n.Range, Unknown: true, Value: "(not a string)"}
}

// strings reads a string or an array of strings. An unknown element stays
// as an Unknown Str so rules can fail closed on it.
func (r *reader) strings(n Node, what string) []Str {
	switch n.Kind {
	case Array:
		out := make([]Str, 0, len(n.Items))
		for _, it := range n.Items {
			if it.Kind == Array { // flattened alternatives
				out = append(out, r.strings(it, what)...)
				continue
			}
			out = append(out, r.scalar(it, what))
		}
		return out
	case Null:
		r.add(n.Range, what+" is null")
		return nil
	}
	return []Str{r.scalar(n, what)}
}

var statementKeys = map[string]bool{
	"Sid": true, "Effect": true, "Action": true, "NotAction": true, "Resource": true,
	"NotResource": true, "Principal": true, "NotPrincipal": true, "Condition": true,
}

func (r *reader) statement(n Node) Statement {
	s := Statement{Range: n.Range, Keys: map[string]hcl.Range{}}
	for _, f := range n.Fields {
		k := f.Key.Value
		if !statementKeys[k] {
			r.add(f.Key.Range, fmt.Sprintf("unknown statement key %q (keys are case-sensitive)", k))
			continue
		}
		s.Keys[k] = f.Key.Range
		switch k {
		case "Sid":
			s.Sid = r.scalar(f.Value, "Sid")
		case "Effect":
			s.HasEffect = true
			s.Effect = r.scalar(f.Value, "Effect")
			if s.Effect.Literal() && s.Effect.Value != "Allow" && s.Effect.Value != "Deny" {
				r.add(s.Effect.Range, fmt.Sprintf("Effect %q must be exactly Allow or Deny", s.Effect.Value))
			}
			if s.Effect.Unknown {
				r.unresolved(s.Effect.Range, "Effect is %s, which could not be resolved; treated as Allow", s.Effect.Value)
			}
		case "Action":
			s.HasAction = true
			s.Action = r.strings(f.Value, "Action")
		case "NotAction":
			s.HasNotAction = true
			s.NotAction = r.strings(f.Value, "NotAction")
		case "Resource":
			s.HasResource = true
			s.Resource = r.strings(f.Value, "Resource")
		case "NotResource":
			s.HasNotResource = true
			s.NotResource = r.strings(f.Value, "NotResource")
		case "Principal":
			s.HasPrincipal = true
			s.Principal = r.principals(f.Value)
		case "NotPrincipal":
			s.HasNotPrincipal = true
			s.NotPrincipal = r.principals(f.Value)
		case "Condition":
			s.Conditions = r.conditions(f.Value)
		}
	}
	if !s.HasEffect {
		r.add(n.Range, "the statement has no Effect")
	}
	if !s.HasAction && !s.HasNotAction {
		r.add(n.Range, "the statement has no Action or NotAction")
	}
	if s.HasAction && s.HasNotAction {
		r.add(s.Keys["NotAction"], "a statement cannot have both Action and NotAction")
	}
	if s.HasResource && s.HasNotResource {
		r.add(s.Keys["NotResource"], "a statement cannot have both Resource and NotResource")
	}
	for _, list := range [][]Str{s.Action, s.NotAction} {
		for _, a := range list {
			if a.Literal() && a.Value != "*" && !strings.Contains(a.Value, ":") {
				r.add(a.Range, fmt.Sprintf("action %q has no service prefix (want service:Action)", a.Value))
			}
		}
	}
	return s
}

func (r *reader) principals(n Node) []Principal {
	switch n.Kind {
	case String:
		if n.Str.Value != "*" {
			r.add(n.Range, `a Principal string must be "*"; use {"AWS": ...}`)
		}
		return []Principal{{Type: "*", Value: n.Str}}
	case Unknown:
		s := n.Str
		s.Unknown = true
		r.unresolved(n.Range, "Principal is %s, which could not be resolved", n.Str.Value)
		return []Principal{{Type: "*", Value: s}}
	case Object:
		var out []Principal
		for _, f := range n.Fields {
			switch {
			case f.Key.Value == "AWS", f.Key.Value == "Service", f.Key.Value == "Federated", f.Key.Value == "CanonicalUser":
			case f.Key.Unknown:
				// a type that could not be computed is unresolved, not wrong
				r.unresolved(f.Key.Range, "the principal type could not be resolved")
			default:
				r.add(f.Key.Range, fmt.Sprintf("unknown principal type %q (want AWS, Service, Federated or CanonicalUser)", f.Key.Value))
			}
			for _, v := range r.strings(f.Value, "Principal "+f.Key.Value) {
				out = append(out, Principal{Type: f.Key.Value, Value: v})
			}
		}
		return out
	}
	r.add(n.Range, "Principal must be \"*\" or an object")
	return nil
}

func (r *reader) conditions(n Node) []Condition {
	if n.Kind == Unknown {
		r.unresolved(n.Range, "Condition is %s, which could not be resolved", n.Str.Value)
		return []Condition{{Operator: Str{Value: n.Str.Value, Range: n.Range, Unknown: true}}}
	}
	if n.Kind != Object {
		r.add(n.Range, "Condition must be an object of operators")
		return nil
	}
	var out []Condition
	for _, op := range n.Fields {
		if op.Value.Kind != Object {
			r.add(op.Value.Range, fmt.Sprintf("condition operator %q must map keys to values", op.Key.Value))
			continue
		}
		for _, k := range op.Value.Fields {
			out = append(out, Condition{Operator: op.Key, Key: k.Key, Values: r.strings(k.Value, "condition value")})
		}
	}
	return out
}
