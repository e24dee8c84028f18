package tfeval

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"strings"
	"sync"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
)

//go:embed managed/*.json managed/policies.tsv.gz
var managedFS embed.FS

var (
	managedOnce sync.Once
	managedDocs map[string][]byte // policy name -> default version document
)

// loadManaged reads the catalogue of AWS-managed policies
// (managed/policies.tsv.gz, refreshed by managed/refresh.sh); the
// hand-saved managed/NAME.json files take precedence, being newer.
func loadManaged() {
	managedDocs = map[string][]byte{}
	b, err := managedFS.ReadFile("managed/policies.tsv.gz")
	if err == nil {
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(b)); err == nil {
			b, err = io.ReadAll(zr)
		}
	}
	if err != nil {
		// Embedded at build time: unreadable is a build bug.
		panic("tfeval: managed/policies.tsv.gz is unreadable: " + err.Error() + "; rerun managed/refresh.sh")
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := bytes.SplitN(line, []byte("\t"), 4)
		if len(f) == 4 {
			managedDocs[string(f[0])] = f[3]
		}
	}
	entries, _ := managedFS.ReadDir("managed")
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			if doc, err := managedFS.ReadFile("managed/" + e.Name()); err == nil {
				managedDocs[n] = doc
			}
		}
	}
}

// managedPolicy returns the document of an AWS-managed policy ARN, with
// every range moved onto the ARN in the caller's file: that is where a
// finding about it belongs.
func managedPolicy(arn string, at hcl.Range) (iampolicy.Node, bool) {
	if !isAWSManaged(arn) {
		return iampolicy.Node{}, false
	}
	managedOnce.Do(loadManaged)
	name := arn[strings.LastIndex(arn, "/")+1:]
	b, ok := managedDocs[name]
	if !ok {
		return iampolicy.Node{}, false
	}
	n, err := iampolicy.ParseJSON(b, "managed/"+name+".json", nil)
	if err != nil {
		return iampolicy.Node{}, false
	}
	moveRanges(&n, at)
	return n, true
}

// isAWSManaged reports an AWS-managed policy ARN in any partition, also
// one written as ${data.aws_partition.current.partition}.
func isAWSManaged(arn string) bool {
	return strings.HasPrefix(arn, "arn:") && strings.Contains(arn, ":iam::aws:policy/")
}

func moveRanges(n *iampolicy.Node, at hcl.Range) {
	n.Range = at
	n.Str.Range = at
	for i := range n.Items {
		moveRanges(&n.Items[i], at)
	}
	for i := range n.Fields {
		n.Fields[i].Key.Range = at
		moveRanges(&n.Fields[i].Value, at)
	}
}
