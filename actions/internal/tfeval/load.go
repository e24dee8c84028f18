// Package tfeval evaluates Terraform HCL far enough to compute every IAM
// role's effective policy: variables, tfvars, locals, local module calls,
// count and for_each, conditionals (both branches when the condition is
// unknown), dynamic blocks, jsonencode, heredocs, string JSON, and
// aws_iam_policy_document with its Sid-merge semantics. Values keep the
// range they were written at, so a finding points into the caller's file;
// what cannot be resolved stays a symbol or an unknown, never a
// placeholder.
package tfeval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Module is one directory of .tf files.
type Module struct {
	Dir       string
	Variables map[string]*hclsyntax.Block
	Locals    map[string]*hclsyntax.Attribute
	Outputs   map[string]*hclsyntax.Block
	Calls     map[string]*hclsyntax.Block
	Resources map[string]*hclsyntax.Block // "type.name"
	Data      map[string]*hclsyntax.Block // "type.name"
	// Order lists resources in file order, for stable output.
	Order []string
}

// ParseError is a .tf file that is not valid HCL.
type ParseError struct{ Diags hcl.Diagnostics }

func (e *ParseError) Error() string {
	var b strings.Builder
	for i, d := range e.Diags {
		if i > 0 {
			b.WriteString("\n")
		}
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": " + d.Detail)
		}
	}
	return b.String()
}

// Sources holds the bytes of every file read, for position mapping.
type Sources struct {
	files map[string][]byte
	mods  map[string]*Module
}

// NewSources returns an empty file cache.
func NewSources() *Sources {
	return &Sources{files: map[string][]byte{}, mods: map[string]*Module{}}
}

// ParseFile parses HCL native syntax, remembering the bytes.
func (s *Sources) ParseFile(name string, src []byte) (*hclsyntax.Body, error) {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		return nil, &ParseError{Diags: diags}
	}
	s.files[name] = src
	return f.Body.(*hclsyntax.Body), nil
}

// LoadModule reads every .tf file in dir (not .tf.json: rare in practice).
func (s *Sources) LoadModule(dir string) (*Module, error) {
	dir = filepath.Clean(dir)
	if m, ok := s.mods[dir]; ok {
		return m, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	m := &Module{Dir: dir, Variables: map[string]*hclsyntax.Block{}, Locals: map[string]*hclsyntax.Attribute{},
		Outputs: map[string]*hclsyntax.Block{}, Calls: map[string]*hclsyntax.Block{},
		Resources: map[string]*hclsyntax.Block{}, Data: map[string]*hclsyntax.Block{}}
	s.mods[dir] = m
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
		body, err := s.ParseFile(n, src)
		if err != nil {
			return nil, err
		}
		m.add(body)
	}
	return m, nil
}

func (m *Module) add(body *hclsyntax.Body) {
	for _, b := range body.Blocks {
		switch b.Type {
		case "variable":
			if len(b.Labels) == 1 {
				m.Variables[b.Labels[0]] = b
			}
		case "locals":
			for name, a := range b.Body.Attributes {
				m.Locals[name] = a
			}
		case "output":
			if len(b.Labels) == 1 {
				m.Outputs[b.Labels[0]] = b
			}
		case "module":
			if len(b.Labels) == 1 {
				m.Calls[b.Labels[0]] = b
			}
		case "resource":
			if len(b.Labels) == 2 {
				k := b.Labels[0] + "." + b.Labels[1]
				m.Resources[k] = b
				m.Order = append(m.Order, k)
			}
		case "data":
			if len(b.Labels) == 2 {
				m.Data[b.Labels[0]+"."+b.Labels[1]] = b
			}
		}
	}
}
