// Command policy-check proves least privilege three ways: the contract in
// policies/, the IAM the Terraform grants, and the AWS calls the Go
// services make. It fails, at the exact file:line:col, when any two
// disagree. It runs as a GitHub Action (inputs in INPUT_* variables) and as
// a command:
//
//	policy-check [--contract FILE|DIR] [--format text|json|sarif|github] [--code DIR] [--plan-json FILE] [--modules-dir DIR] DIR...
//
// Exit 0: no unsuppressed error-level findings; 1: error-level findings; 2:
// usage, or input that cannot be read (reported with file:line). --help
// prints the usage and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/policycheck"
	"github.com/conveyor-dev/conveyor/actions/internal/policyreport"
)

var inputs = []gha.Input{
	{Name: "directories", Usage: "Terraform root modules to check, comma or newline separated (or give them as arguments)"},
	{Name: "contract", Usage: "contract file or directory (default: the nearest policies/ above each directory)"},
	{Name: "format", Default: "text", Usage: "text, json, sarif or github"},
	{Name: "code", Usage: "directory whose Go main packages (one per service) are compared with their roles"},
	{Name: "plan-json", Usage: "a `terraform show -json` plan whose exact IAM values are checked"},
	{Name: "sarif-file", Usage: "also write SARIF 2.1.0 to this file (for code scanning upload)"},
	{Name: "no-contract", Usage: "true: run only the generic rules even if policies/ exists"},
	{Name: "modules-dir", Usage: "a .terraform/modules directory (with modules.json) to read registry and git modules from (default: each directory's own)"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// splitArgs separates --flag value pairs from positional directories,
// since every flag of this command takes a value.
func splitArgs(args []string) (flags, dirs []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(dirs, args[i+1:]...)
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && name != "h" && name != "help" && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			dirs = append(dirs, a)
		}
	}
	return flags, dirs
}

// run is the action: 0 when no error-level finding, 1 with findings, 2 when
// the check could not run. Under the runner it writes both outputs on
// every path: errors (empty when the check could not run) and result.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	r := gha.NewRunner(getenv, stdout)
	code, errs := check(ctx, args, getenv, stdout, stderr, r)
	if code < 0 {
		return 0 // --help
	}
	if getenv("GITHUB_OUTPUT") != "" {
		result := "success"
		if code != 0 {
			result = "failure"
		}
		if err := r.SetOutputs(map[string]string{"errors": errs, "result": result}); err != nil {
			fmt.Fprintln(stderr, "policy-check: writing outputs:", err)
			return 2
		}
	}
	return code
}

// check runs the check and returns the exit code (-1 for --help) and the
// errors output.
func check(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, r *gha.Runner) (int, string) {
	flagArgs, dirs := splitArgs(args)
	vals, err := gha.Parse("policy-check", flagArgs, getenv, inputs, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return -1, ""
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2, ""
	}
	if len(dirs) == 0 {
		dirs = vals.List("directories")
	}
	format := vals.String("format")
	if err := policyreport.CheckFormat(format); err != nil {
		fmt.Fprintln(stderr, "policy-check:", err)
		return 2, ""
	}
	noContract, err := vals.Bool("no-contract")
	if err != nil {
		fmt.Fprintln(stderr, "policy-check:", err)
		return 2, ""
	}
	if len(dirs) == 0 && vals.String("plan-json") == "" {
		fmt.Fprintln(stderr, "policy-check: give at least one Terraform directory (arguments or INPUT_DIRECTORIES), or --plan-json FILE")
		return 2, ""
	}
	rep, err := policycheck.Run(ctx, policycheck.Options{
		Dirs: dirs, Contract: vals.String("contract"), NoContract: noContract, CodeDir: vals.String("code"),
		PlanJSON: vals.String("plan-json"), ModulesDir: vals.String("modules-dir"),
	})
	if err != nil {
		fmt.Fprintln(stderr, "policy-check:", err)
		return 2, ""
	}
	base := getenv("GITHUB_WORKSPACE")
	if base == "" {
		base, _ = os.Getwd()
	}
	findings := policyreport.Relative(rep.Findings, base)
	if path := vals.String("sarif-file"); path != "" {
		if err := writeFile(path, func(w io.Writer) error { return policyreport.SARIF(w, findings, "dev") }); err != nil {
			fmt.Fprintln(stderr, "policy-check: writing SARIF:", err)
			return 2, ""
		}
	}
	sum := policyreport.Summary{Roles: rep.Stats.Roles, Documents: rep.Stats.Documents,
		ResourcePolicies: rep.Stats.ResourcePolicies, Unresolved: rep.Stats.Unresolved}
	if err := policyreport.Write(format, stdout, r, findings, sum, "dev"); err != nil {
		fmt.Fprintln(stderr, "policy-check: writing report:", err)
		return 2, ""
	}
	errs := fmt.Sprint(policyreport.Errors(findings))
	if policycheck.HasErrors(findings) {
		return 1, errs
	}
	return 0, errs
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
