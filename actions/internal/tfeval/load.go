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
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
	// installed maps a module call key ("eks", "eks.kms") to the directory
	// `terraform init` installed it in, from .terraform/modules/modules.json.
	installed map[string]string
	// problems are module calls that could not be followed.
	problems []Problem
	reported map[string]bool
}

// NewSources returns an empty file cache.
func NewSources() *Sources {
	return &Sources{files: map[string][]byte{}, mods: map[string]*Module{}, installed: map[string]string{}, reported: map[string]bool{}}
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

// NoFilesError is a directory without Terraform configuration files.
type NoFilesError struct{ Dir string }

func (e *NoFilesError) Error() string {
	return fmt.Sprintf("%s holds no Terraform files (*.tf or *.tf.json); give the directory of a root module", e.Dir)
}

// LoadModule reads every .tf and .tf.json file in dir. A directory with
// neither is a NoFilesError: checking nothing must not look like a pass.
func (s *Sources) LoadModule(dir string) (*Module, error) {
	dir = filepath.Clean(dir)
	if m, ok := s.mods[dir]; ok {
		return m, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	jsonNames, err := filepath.Glob(filepath.Join(dir, "*.tf.json"))
	if err != nil {
		return nil, err
	}
	names = append(names, jsonNames...)
	sort.Strings(names)
	if len(names) == 0 {
		return nil, &NoFilesError{Dir: dir}
	}
	m := &Module{Dir: dir, Variables: map[string]*hclsyntax.Block{}, Locals: map[string]*hclsyntax.Attribute{},
		Outputs: map[string]*hclsyntax.Block{}, Calls: map[string]*hclsyntax.Block{},
		Resources: map[string]*hclsyntax.Block{}, Data: map[string]*hclsyntax.Block{}}
	s.mods[dir] = m
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", n, err)
		}
		parse := s.ParseFile
		if strings.HasSuffix(n, ".json") {
			parse = s.parseJSONConfig
		}
		body, err := parse(n, src)
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

// modulesManifest is .terraform/modules/modules.json, written by
// `terraform init`: where each module call's source was installed.
type modulesManifest struct {
	Modules []struct {
		Key    string `json:"Key"`
		Source string `json:"Source"`
		Dir    string `json:"Dir"`
	} `json:"Modules"`
}

// readInstalled loads the module manifest of root: from modulesDir when
// given (a directory holding modules.json), else from
// root/.terraform/modules. No manifest is not an error; a module call that
// needs it is reported where it is written.
func (s *Sources) readInstalled(root, modulesDir string) error {
	manifest := filepath.Join(root, ".terraform", "modules", "modules.json")
	base := root
	if modulesDir != "" {
		manifest = filepath.Join(modulesDir, "modules.json")
		// Dir entries are relative to the directory terraform init ran in,
		// which holds .terraform/modules.
		base = filepath.Dir(filepath.Dir(filepath.Clean(modulesDir)))
	}
	b, err := os.ReadFile(manifest)
	if errors.Is(err, fs.ErrNotExist) && modulesDir == "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the module manifest: %w (run `terraform init`, or pass --modules-dir DIR/.terraform/modules)", err)
	}
	var m modulesManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s is not a terraform module manifest: %w", manifest, err)
	}
	for _, e := range m.Modules {
		if e.Key == "" {
			continue
		}
		dir := e.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(base, dir)
		}
		s.installed[e.Key] = dir
	}
	return nil
}

// problem records, once per place, something that stops the check from
// following the configuration.
func (s *Sources) problem(rng hcl.Range, addr, format string, args ...any) {
	k := fmt.Sprintf("%s:%d:%d", rng.Filename, rng.Start.Line, rng.Start.Column)
	if s.reported[k] {
		return
	}
	s.reported[k] = true
	s.problems = append(s.problems, Problem{Range: rng, Address: addr, Message: fmt.Sprintf(format, args...)})
}
