package workflowcheck

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// pin: a third-party action runs with the job's token and credentials, so it
// is pinned to a full commit SHA (a tag can be moved) with the version it
// stands for in a comment, and a docker:// image by digest.
type pin struct{}

func (pin) Name() string { return "pin" }
func (pin) Summary() string {
	return "third-party uses: at a full commit SHA with a version comment; docker images by digest"
}

var dockerDigestRe = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

func (pin) Step(c *Check, s *Step) { checkPin(c, s.File, s.Uses()) }

func (pin) Job(c *Check, j *Job) {
	_, u := Get(j.Node, "uses")
	checkPin(c, j.Workflow.File, u)
}

func checkPin(c *Check, file string, u *yaml.Node) {
	if u == nil || strings.HasPrefix(u.Value, "./") {
		return
	}
	ref := u.Value
	if strings.HasPrefix(ref, "docker://") {
		if !dockerDigestRe.MatchString(ref) {
			c.Report(file, u.Line, "%s: pin the image by digest (@sha256:...)", ref)
		}
		return
	}
	at := strings.LastIndex(ref, "@")
	if at < 0 || !sha40.MatchString(ref[at+1:]) {
		c.Report(file, u.Line, "%s: pin third-party actions to a full 40-hex commit SHA, with the version in a comment", ref)
		return
	}
	if !versionNote.MatchString(u.LineComment) {
		c.Report(file, u.Line, "%s: add the version the SHA stands for as a comment (# vX.Y.Z)", ref)
	}
}
