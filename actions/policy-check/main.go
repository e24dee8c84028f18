// Command policy-check proves least privilege three ways: the contract in
// policies/, the IAM the Terraform grants, and the AWS calls the Go
// services make. It fails, at the exact file:line:col, when any two
// disagree. It runs as a GitHub Action (inputs in INPUT_* variables) and as
// a command:
//
//	policy-check [--contract FILE|DIR] [--format text|json|sarif|github] [--code DIR] [--plan-json FILE] DIR...
//
// Exit 0: no error-level findings; 1: error-level findings; 2: usage, or
// input that cannot be parsed (reported with file:line).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcontract"
	"github.com/conveyor-dev/conveyor/actions/internal/policycheck"
	"github.com/conveyor-dev/conveyor/actions/internal/policyreport"
	tfjson "github.com/hashicorp/terraform-json"
)

var inputs = []gha.Input{
	{Name: "directories", Usage: "Terraform root modules to check, comma or newline separated (or give them as arguments)"},
	{Name: "contract", Usage: "contract file or directory (default: the nearest policies/ above each directory)"},
	{Name: "format", Default: "text", Usage: "text, json, sarif or github"},
	{Name: "code", Usage: "directory whose Go main packages (one per service) are compared with their roles"},
	{Name: "plan-json", Usage: "a `terraform show -json` plan whose exact IAM values are checked"},
	{Name: "sarif-file", Usage: "also write SARIF 2.1.0 to this file (for code scanning upload)"},
	{Name: "no-contract", Usage: "true: run only the generic rules even if policies/ exists"},
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
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

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flagArgs, dirs := splitArgs(args)
	vals, err := gha.Parse("policy-check", flagArgs, getenv, inputs, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if len(dirs) == 0 {
		dirs = vals.List("directories")
	}
	format := vals.String("format")
	switch format {
	case "text", "json", "sarif", "github":
	default:
		fmt.Fprintf(stderr, "policy-check: --format %q: want text, json, sarif or github\n", format)
		return 2
	}
	planFile := vals.String("plan-json")
	if len(dirs) == 0 && planFile == "" {
		fmt.Fprintln(stderr, "policy-check: give at least one Terraform directory (arguments or INPUT_DIRECTORIES), or --plan-json FILE")
		return 2
	}
	noContract, err := vals.Bool("no-contract")
	if err != nil {
		fmt.Fprintln(stderr, "policy-check:", err)
		return 2
	}
	loadContract := func(dir string) (*iamcontract.Contract, error) {
		path := vals.String("contract")
		if path == "" && !noContract {
			path = policycheck.FindContract(dir)
		}
		if path == "" || noContract {
			return nil, nil
		}
		return iamcontract.Load(path)
	}
	var code *policycheck.Code
	if dir := vals.String("code"); dir != "" {
		if code, err = policycheck.LoadCode(dir); err != nil {
			fmt.Fprintln(stderr, "policy-check: --code:", err)
			return 2
		}
	}
	cat := iamcatalog.Default()
	// Root modules are independent: check them on every core, report in
	// argument order.
	type result struct {
		fs  []policycheck.Finding
		err error
	}
	results := make([]result, len(dirs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, dir := range dirs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			contract, err := loadContract(dir)
			if err != nil {
				results[i].err = fmt.Errorf("contract: %w", err)
				return
			}
			results[i].fs, _, results[i].err = policycheck.CheckDir(dir, contract, code, cat)
		}()
	}
	wg.Wait()
	var findings []policycheck.Finding
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintln(stderr, "policy-check:", r.err)
			return 2
		}
		findings = append(findings, r.fs...)
	}
	if planFile != "" {
		b, err := os.ReadFile(planFile)
		if err != nil {
			fmt.Fprintln(stderr, "policy-check: --plan-json:", err)
			return 2
		}
		var plan tfjson.Plan
		if err := json.Unmarshal(b, &plan); err != nil {
			fmt.Fprintf(stderr, "policy-check: %s is not a `terraform show -json` plan: %v\n", planFile, err)
			return 2
		}
		contract, err := loadContract(".")
		if err != nil {
			fmt.Fprintln(stderr, "policy-check: contract:", err)
			return 2
		}
		findings = append(findings, policycheck.CheckPlan(&plan, contract)...)
	}
	base := getenv("GITHUB_WORKSPACE")
	if base == "" {
		base, _ = os.Getwd()
	}
	findings = policyreport.Relative(findings, base)
	if path := vals.String("sarif-file"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			err = policyreport.SARIF(f, findings, "dev")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "policy-check: writing SARIF:", err)
			return 2
		}
	}
	switch format {
	case "text":
		err = policyreport.Text(stdout, findings)
	case "json":
		err = policyreport.JSON(stdout, findings)
	case "sarif":
		err = policyreport.SARIF(stdout, findings, "dev")
	case "github":
		r := gha.NewRunner(getenv, stdout)
		err = policyreport.GitHub(r, findings)
		if err == nil {
			e := 0
			for _, f := range findings {
				if f.Severity == "error" {
					e++
				}
			}
			err = r.SetOutput("errors", fmt.Sprint(e))
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "policy-check: writing report:", err)
		return 2
	}
	if policycheck.HasErrors(findings) {
		return 1
	}
	return 0
}
