// Package gha is the GitHub Actions I/O every conveyor action shares: inputs
// read from --flags or the runner's INPUT_* variables, outputs written with a
// random delimiter, step summaries and file:line annotations.
//
// It wraps go-githubactions for commands and annotations, but writes outputs
// itself: go-githubactions uses a fixed heredoc delimiter, so an output value
// containing that delimiter could inject further outputs.
package gha

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	githubactions "github.com/sethvargo/go-githubactions"
)

// Input declares one action input. Name is kebab-case, as in action.yml; the
// flag is --Name and the environment variable INPUT_<NAME> with '-' as '_'.
type Input struct {
	Name     string
	Default  string
	Usage    string
	Required bool
}

// EnvName is the variable an action.yml maps an input into.
func EnvName(input string) string {
	return "INPUT_" + strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(input))
}

// Values are parsed inputs.
type Values map[string]string

// Parse reads inputs for the command name. A flag given on the command line
// wins over the environment; an empty value takes the default. Missing
// required inputs are one error that names them all. -h prints usage and
// returns flag.ErrHelp.
func Parse(name string, args []string, getenv func(string) string, inputs []Input, usageOut io.Writer) (Values, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	flags := make(map[string]*string, len(inputs))
	for _, in := range inputs {
		u := in.Usage
		if in.Required {
			u += " (required)"
		}
		u += " [env " + EnvName(in.Name) + "]"
		flags[in.Name] = fs.String(in.Name, "", u)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected arguments %q; every input is a --flag", name, fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	vals := Values{}
	var missing []string
	for _, in := range inputs {
		v := *flags[in.Name]
		if !set[in.Name] {
			v = strings.TrimSpace(getenv(EnvName(in.Name)))
		}
		if v == "" {
			v = in.Default
		}
		if v == "" && in.Required {
			missing = append(missing, in.Name)
		}
		vals[in.Name] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing required input(s) %s: pass --%s or set %s",
			name, strings.Join(missing, ", "), missing[0], EnvName(missing[0]))
	}
	return vals, nil
}

// String returns an input's value.
func (v Values) String(name string) string { return v[name] }

// List splits an input on commas and newlines, dropping empty items.
func (v Values) List(name string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v[name], func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Bool parses true/false (also 1/0, yes/no); empty is false.
func (v Values) Bool(name string) (bool, error) {
	switch strings.ToLower(v[name]) {
	case "", "false", "0", "no":
		return false, nil
	case "true", "1", "yes":
		return true, nil
	}
	return false, fmt.Errorf("input %s: %q is not a boolean (want true or false)", name, v[name])
}

// Duration parses a Go duration ("90s", "15m"); a bare number is seconds.
func (v Values) Duration(name string) (time.Duration, error) {
	s := v[name]
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("input %s: %q is not a duration (want e.g. 90s or 15m)", name, s)
	}
	return d, nil
}

// Runner writes to the GitHub runner: outputs, step summary, annotations and
// log lines. Outside a runner (no GITHUB_OUTPUT / GITHUB_STEP_SUMMARY) outputs
// and the summary go to the log writer, so the command is useful by hand.
type Runner struct {
	act    *githubactions.Action
	getenv func(string) string
	log    io.Writer
}

// NewRunner returns a Runner over the given environment and log writer.
func NewRunner(getenv func(string) string, log io.Writer) *Runner {
	return &Runner{
		act:    githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(log)),
		getenv: getenv,
		log:    log,
	}
}

// FromOS is NewRunner over the process environment and stdout.
func FromOS() *Runner { return NewRunner(os.Getenv, os.Stdout) }

// Getenv reads the runner's environment.
func (r *Runner) Getenv(k string) string { return r.getenv(k) }

// Log is where progress lines go.
func (r *Runner) Log() io.Writer { return r.log }

// Logf prints a progress line.
func (r *Runner) Logf(format string, args ...any) {
	fmt.Fprintf(r.log, format+"\n", args...)
}

// SetOutput writes one step output. The heredoc delimiter is random and
// checked against the value, so no value can end the block early.
func (r *Runner) SetOutput(name, value string) error {
	if name == "" || strings.ContainsAny(name, "\r\n=<") {
		return fmt.Errorf("output name %q is not valid", name)
	}
	path := r.getenv("GITHUB_OUTPUT")
	if path == "" {
		_, err := fmt.Fprintf(r.log, "output %s=%s\n", name, value)
		return err
	}
	var delim string
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("make output delimiter: %w", err)
		}
		delim = "ghadelimiter_" + hex.EncodeToString(b)
		if !strings.Contains(value, delim) {
			break
		}
	}
	return appendFile(path, fmt.Sprintf("%s<<%s\n%s\n%s\n", name, delim, value, delim))
}

// SetOutputs writes several outputs in name order.
func (r *Runner) SetOutputs(outs map[string]string) error {
	names := make([]string, 0, len(outs))
	for k := range outs {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []error
	for _, k := range names {
		errs = append(errs, r.SetOutput(k, outs[k]))
	}
	return errors.Join(errs...)
}

// Summary appends markdown to the step summary.
func (r *Runner) Summary(markdown string) error {
	if !strings.HasSuffix(markdown, "\n") {
		markdown += "\n"
	}
	path := r.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		_, err := fmt.Fprint(r.log, markdown)
		return err
	}
	return appendFile(path, markdown)
}

// Annotation is a message pinned to a place: a file and line where there is
// one, otherwise just a title (a service, a deployment).
type Annotation struct {
	File      string
	Line, Col int
	EndLine   int
	Title     string
	Message   string
}

func (a Annotation) fields() map[string]string {
	m := map[string]string{}
	if a.File != "" {
		m["file"] = a.File
	}
	if a.Line > 0 {
		m["line"] = strconv.Itoa(a.Line)
	}
	if a.EndLine > 0 {
		m["endLine"] = strconv.Itoa(a.EndLine)
	}
	if a.Col > 0 {
		m["col"] = strconv.Itoa(a.Col)
	}
	if a.Title != "" {
		m["title"] = a.Title
	}
	return m
}

// Error prints an ::error annotation.
func (r *Runner) Error(a Annotation) { r.act.WithFieldsMap(a.fields()).Errorf("%s", a.Message) }

// Warning prints a ::warning annotation.
func (r *Runner) Warning(a Annotation) { r.act.WithFieldsMap(a.fields()).Warningf("%s", a.Message) }

// Notice prints a ::notice annotation.
func (r *Runner) Notice(a Annotation) { r.act.WithFieldsMap(a.fields()).Noticef("%s", a.Message) }

// Group folds the log lines until EndGroup.
func (r *Runner) Group(title string) { r.act.Group(title) }

// EndGroup ends a Group.
func (r *Runner) EndGroup() { r.act.EndGroup() }

// Mask hides a secret in later log output.
func (r *Runner) Mask(secret string) { r.act.AddMask(secret) }

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// ReadOutputs parses a GITHUB_OUTPUT file the way the runner does: every
// name<<delimiter block, and plain name=value lines. Tests and the local
// pipeline use it to read what an action reported.
func ReadOutputs(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read outputs: %w", err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" {
			continue
		}
		if k, delim, ok := strings.Cut(lines[i], "<<"); ok {
			start := i + 1
			for i++; i < len(lines) && lines[i] != delim; i++ {
			}
			if i == len(lines) {
				return nil, fmt.Errorf("%s:%d: output %s: no closing delimiter %q", path, start, k, delim)
			}
			out[k] = strings.Join(lines[start:i], "\n")
			continue
		}
		k, v, ok := strings.Cut(lines[i], "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: not an output line: %q", path, i+1, lines[i])
		}
		out[k] = v
	}
	return out, nil
}
