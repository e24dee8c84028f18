package policycheck

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
	"github.com/conveyor-dev/conveyor/actions/internal/iamcontract"
	"github.com/conveyor-dev/conveyor/actions/internal/policyrules"
	"github.com/conveyor-dev/conveyor/actions/internal/tfeval"
	tfjson "github.com/hashicorp/terraform-json"
)

// Options are everything one run of the check reads.
type Options struct {
	// Dirs are Terraform root modules, checked independently.
	Dirs []string
	// Contract is a contract file or directory; "" finds the nearest
	// policies/ above each directory, unless NoContract.
	Contract   string
	NoContract bool
	// CodeDir holds the Go service mains compared with their roles.
	CodeDir string
	// PlanJSON is a `terraform show -json` plan checked too.
	PlanJSON string
	// ModulesDir is a .terraform/modules directory to read registry and
	// git modules from (default: each root's own).
	ModulesDir string
	// VarFiles are extra .tfvars files for every root.
	VarFiles []string
	Catalog  *iamcatalog.Catalog
}

// Report is the outcome of a run.
type Report struct {
	Findings []Finding
	Stats    Stats
}

// LoadContract is the one place a contract is chosen: path when given,
// else the nearest policies/ above dir, none when none is true or nothing
// is found.
func LoadContract(path, dir string, none bool) (*iamcontract.Contract, error) {
	if none {
		return nil, nil
	}
	if path == "" {
		path = FindContract(dir)
	}
	if path == "" {
		return nil, nil
	}
	c, err := iamcontract.Load(path)
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return c, nil
}

// Run checks every directory (in parallel, reported in order) and the
// plan, applies inline suppressions, and returns the findings with what was
// looked at. An error is input that cannot be read (exit 2).
func Run(ctx context.Context, opt Options) (*Report, error) {
	if len(opt.Dirs) == 0 && opt.PlanJSON == "" {
		return nil, fmt.Errorf("give at least one Terraform directory, or a plan")
	}
	cat := opt.Catalog
	if cat == nil {
		cat = iamcatalog.Default()
	}
	var code *Code
	if opt.CodeDir != "" {
		var err error
		if code, err = LoadCode(opt.CodeDir); err != nil {
			return nil, fmt.Errorf("--code: %w", err)
		}
	}
	type result struct {
		fs  []Finding
		st  Stats
		err error
	}
	results := make([]result, len(opt.Dirs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, dir := range opt.Dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i].err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			contract, err := LoadContract(opt.Contract, dir, opt.NoContract)
			if err != nil {
				results[i].err = err
				return
			}
			results[i].fs, results[i].st, results[i].err = checkDir(dir, tfeval.Options{VarFiles: opt.VarFiles, ModulesDir: opt.ModulesDir}, contract, code, cat)
		}()
	}
	wg.Wait()
	rep := &Report{}
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		rep.Findings = append(rep.Findings, r.fs...)
		rep.Stats.add(r.st)
	}
	if opt.PlanJSON != "" {
		b, err := os.ReadFile(opt.PlanJSON)
		if err != nil {
			return nil, fmt.Errorf("--plan-json: %w", err)
		}
		var plan tfjson.Plan
		if err := json.Unmarshal(b, &plan); err != nil {
			return nil, fmt.Errorf("%s is not a `terraform show -json` plan: %w", opt.PlanJSON, err)
		}
		contract, err := LoadContract(opt.Contract, ".", opt.NoContract)
		if err != nil {
			return nil, err
		}
		fs := CheckPlan(&plan, contract)
		rep.Findings = append(rep.Findings, fs...)
		s := PlanSubject(&plan)
		rep.Stats.add(subjectStats(s, fs))
	}
	rep.Findings = Suppress(rep.Findings)
	rep.Stats.Suppressed, rep.Stats.Unresolved = 0, 0
	for _, f := range rep.Findings {
		if f.Suppressed != "" {
			rep.Stats.Suppressed++
		}
		if f.Rule == "IAM008" {
			rep.Stats.Unresolved++
		}
	}
	return rep, nil
}

func (s *Stats) add(o Stats) {
	s.Roles += o.Roles
	s.Documents += o.Documents
	s.ResourcePolicies += o.ResourcePolicies
}

func subjectStats(s *policyrules.Subject, fs []Finding) Stats {
	st := Stats{Roles: len(s.Roles)}
	for _, d := range s.Docs {
		if d.Kind == policyrules.Resource {
			st.ResourcePolicies++
		} else {
			st.Documents++
		}
	}
	return st
}
