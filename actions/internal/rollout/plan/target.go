package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// TargetKind is how a rollback target was given.
type TargetKind int

const (
	// TargetLastCompleted is the default: the last COMPLETED deployment
	// before the current one.
	TargetLastCompleted TargetKind = iota
	// TargetRevision is a task definition: a revision number of the
	// service's family, family:revision or an ARN.
	TargetRevision
	// TargetDigest is the revision the newest successful deployment of
	// the service ran with an image of this digest, else the newest
	// revision of the family that holds it.
	TargetDigest
)

// Target is a parsed rollback target.
type Target struct {
	Kind  TargetKind
	Value string
}

// ParseTarget reads the rollback action's "to" input: empty or
// "last-completed", a revision ("42", "family:42" or a task definition ARN),
// or a digest ("sha256:…").
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" || s == "last-completed":
		return Target{Kind: TargetLastCompleted}, nil
	case strings.HasPrefix(s, "sha256:"):
		if !digestRE.MatchString(s) {
			return Target{}, fmt.Errorf("rollback target %q: a digest is sha256: and 64 hex digits", s)
		}
		return Target{Kind: TargetDigest, Value: s}, nil
	case strings.HasPrefix(s, "arn:aws"):
		return Target{Kind: TargetRevision, Value: s}, nil
	}
	rev := s
	if i := strings.LastIndex(s, ":"); i >= 0 {
		rev = s[i+1:]
	}
	if n, err := strconv.Atoi(rev); err != nil || n < 1 {
		return Target{}, fmt.Errorf("rollback target %q: want last-completed, a revision (42 or family:42), a task definition ARN or sha256:<digest>", s)
	}
	return Target{Kind: TargetRevision, Value: s}, nil
}

// Family returns the family of a task definition ARN or family:revision.
func Family(td string) string {
	f := ShortTaskDef(td)
	if i := strings.LastIndex(f, ":"); i >= 0 {
		f = f[:i]
	}
	return f
}

// Revision resolves a TargetRevision against the service's family.
func (t Target) Revision(family string) string {
	if strings.Contains(t.Value, ":") {
		return t.Value
	}
	return family + ":" + t.Value
}
