package tfeval

import (
	"embed"
	"strings"

	"github.com/conveyor-dev/conveyor/actions/internal/iampolicy"
	"github.com/hashicorp/hcl/v2"
)

//go:embed managed/*.json
var managedFS embed.FS

// managedPolicy returns the vendored document of an AWS-managed policy
// ARN, with every range moved onto the ARN in the caller's file: that is
// where a finding about it belongs.
func managedPolicy(arn string, at hcl.Range) (iampolicy.Node, bool) {
	if !isAWSManaged(arn) {
		return iampolicy.Node{}, false
	}
	name := arn[strings.LastIndex(arn, "/")+1:]
	b, err := managedFS.ReadFile("managed/" + name + ".json")
	if err != nil {
		return iampolicy.Node{}, false
	}
	n, err := iampolicy.ParseJSON(b, "managed/"+name+".json", nil)
	if err != nil {
		return iampolicy.Node{}, false
	}
	moveRanges(&n, at)
	return n, true
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

// isAWSManaged reports an AWS-managed policy ARN in any partition, also
// one written as ${data.aws_partition.current.partition}.
func isAWSManaged(arn string) bool {
	return strings.HasPrefix(arn, "arn:") && strings.Contains(arn, ":iam::aws:policy/")
}
