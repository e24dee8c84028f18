// Package plan decides what to deploy, without calling ECS: it reads the
// image map from build-push, renders the next task definition from the live
// one, picks rollback targets, and checks a timeout against what a rolling
// deployment needs. Everything here is a pure function over data, so it is
// tested with tables; package rollout makes the calls.
package plan

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Tag keys conveyor puts on the task definitions it registers.
const (
	TagGitSHA = "conveyor:git-sha"
	// TagDigestPrefix + container name carries that container's digest.
	TagDigestPrefix = "conveyor:digest:"
)

// Image is a repository pinned by digest.
type Image struct {
	Repository string // registry/name, without tag or digest
	Digest     string // sha256:<64 hex>
}

// Ref is repository@digest.
func (i Image) Ref() string { return i.Repository + "@" + i.Digest }

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ParseImage reads "repository@sha256:<hex>" (a tag before the digest is
// dropped: the digest is what runs).
func ParseImage(ref string) (Image, error) {
	repo, digest, ok := strings.Cut(strings.TrimSpace(ref), "@")
	if !ok || !digestRE.MatchString(digest) {
		return Image{}, fmt.Errorf("image %q is not pinned by digest: want repository@sha256:<64 hex digits>, as build-push prints", ref)
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	if repo == "" {
		return Image{}, fmt.Errorf("image %q has no repository", ref)
	}
	return Image{Repository: repo, Digest: digest}, nil
}

// ParseImageMap reads build-push's images output: a JSON object from
// container (= short service) name to repository@sha256:digest.
func ParseImageMap(js string) (map[string]Image, error) {
	var raw map[string]string
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		return nil, fmt.Errorf("image-map is not a JSON object of name → repository@sha256:digest (build-push's images output): %w", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("image-map is empty: pass build-push's images output")
	}
	out := map[string]Image{}
	for name, ref := range raw {
		img, err := ParseImage(ref)
		if err != nil {
			return nil, fmt.Errorf("image-map entry %q: %w", name, err)
		}
		out[name] = img
	}
	return out, nil
}

// Change is one container whose image the rendered task definition changes.
type Change struct {
	Container string
	From, To  string
	Digest    string
}

// Render builds the registration for the next task definition: a copy of
// live in which only the images of containers named in images change, to
// their pinned digests, tagged with the git SHA and the digests. liveTags are the live revision's tags (kept, except
// conveyor's own). It fails when no container of live is in images.
func Render(live *types.TaskDefinition, liveTags []types.Tag, images map[string]Image, gitSHA string) (*ecs.RegisterTaskDefinitionInput, []Change, error) {
	if live == nil || live.Family == nil {
		return nil, nil, fmt.Errorf("render task definition: the live task definition is missing")
	}
	in := &ecs.RegisterTaskDefinitionInput{
		Family:                        live.Family,
		TaskRoleArn:                   live.TaskRoleArn,
		ExecutionRoleArn:              live.ExecutionRoleArn,
		NetworkMode:                   live.NetworkMode,
		Volumes:                       live.Volumes,
		PlacementConstraints:          live.PlacementConstraints,
		RequiresCompatibilities:       live.RequiresCompatibilities,
		Cpu:                           live.Cpu,
		Memory:                        live.Memory,
		PidMode:                       live.PidMode,
		IpcMode:                       live.IpcMode,
		ProxyConfiguration:            live.ProxyConfiguration,
		InferenceAccelerators:         live.InferenceAccelerators,
		EphemeralStorage:              live.EphemeralStorage,
		RuntimePlatform:               live.RuntimePlatform,
		EnableFaultInjection:          live.EnableFaultInjection,
		TrustedExecutionConfiguration: live.TrustedExecutionConfiguration,
	}
	var changes []Change
	var names []string
	for _, c := range live.ContainerDefinitions {
		name := aws.ToString(c.Name)
		names = append(names, name)
		if img, ok := images[name]; ok {
			changes = append(changes, Change{Container: name, From: aws.ToString(c.Image), To: img.Ref(), Digest: img.Digest})
			c.Image = aws.String(img.Ref())
		}
		in.ContainerDefinitions = append(in.ContainerDefinitions, c)
	}
	if len(changes) == 0 {
		return nil, nil, fmt.Errorf("task definition %s has containers %s and the image map names none of them: the image map's keys must be container names",
			aws.ToString(live.TaskDefinitionArn), strings.Join(names, ", "))
	}
	keep := map[string]string{}
	for _, t := range liveTags {
		if k := aws.ToString(t.Key); !strings.HasPrefix(k, "conveyor:") {
			keep[k] = aws.ToString(t.Value)
		}
	}
	if gitSHA != "" {
		keep[TagGitSHA] = gitSHA
	}
	for _, c := range changes {
		keep[TagDigestPrefix+c.Container] = c.Digest
	}
	keys := make([]string, 0, len(keep))
	for k := range keep {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(keep[k])})
	}
	return in, changes, nil
}

// TagValue returns a tag's value.
func TagValue(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// Digests returns the container → digest pins of a task definition: from
// images written as repository@digest.
func Digests(td *types.TaskDefinition) map[string]string {
	out := map[string]string{}
	if td == nil {
		return out
	}
	for _, c := range td.ContainerDefinitions {
		if _, d, ok := strings.Cut(aws.ToString(c.Image), "@"); ok {
			out[aws.ToString(c.Name)] = d
		}
	}
	return out
}

// ShortTaskDef turns a task definition ARN into family:revision.
func ShortTaskDef(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
