// Package buildpush is the build-push action's work: its inputs turned into
// image build options and a destination (a registry, an OCI layout or both),
// the build, the publish, and the outputs and step summary that report them.
// Building (package image) and putting the images somewhere (package
// publish) stay separate; this package only chains them.
package buildpush

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/image"
	"github.com/conveyor-dev/conveyor/actions/internal/publish"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// Inputs are the action's inputs, as action.yml declares them.
var Inputs = []gha.Input{
	{Name: "services", Default: strings.Join(catalog.Names(), ","), Usage: "services to build, comma-separated (" + strings.Join(catalog.Names(), ", ") + ")"},
	{Name: "platforms", Default: strings.Join(image.DefaultPlatforms, ","), Usage: "platforms, comma-separated os/arch"},
	{Name: "repository-prefix", Usage: "registry/prefix; each image goes to <prefix>/<service>, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor"},
	{Name: "base-image", Default: image.Scratch, Usage: "base image pinned by @sha256, or scratch (CA certificates and user 65532 on an empty image)"},
	{Name: "revision", Usage: "git revision stamped into binaries and used as the tag (default: GITHUB_SHA, else git HEAD)"},
	{Name: "source-url", Usage: "repository URL for org.opencontainers.image.source (default: GITHUB_SERVER_URL/GITHUB_REPOSITORY)"},
	{Name: "push", Default: "true", Usage: "push to the registry (true) or only write oci-layout (false)"},
	{Name: "oci-layout", Usage: "also write the images to this OCI layout directory (required when push is false)"},
	{Name: "source-date-epoch", Usage: "Unix time for every timestamp in the images (default: SOURCE_DATE_EPOCH, else the commit time)"},
	{Name: "working-directory", Default: ".", Usage: "the Go module root to build in"},
	{Name: "registry-auth", Default: "auto", Usage: "auto (ECR hosts: ecr:GetAuthorizationToken, others: docker config), ecr (every host), or docker"},
	{Name: "cache-dir", Usage: "where binaries and compressed layers are kept between runs (default: the user cache directory)"},
}

// Options is one build-push run.
type Options struct {
	Build     image.Options // what to build; Keychain also logs in to push
	Prefix    string        // registry/prefix the images go to as <Prefix>/<service>; "" when not pushing
	Push      bool          // push to Prefix
	LayoutDir string        // also write an OCI layout here; "" for none
}

// FromInputs checks the inputs and turns them into Options. getenv supplies
// the runner's GITHUB_* and SOURCE_DATE_EPOCH defaults. Every input is
// checked before anything is built.
func FromInputs(ctx context.Context, in gha.Values, getenv func(string) string) (Options, error) {
	targets, err := image.Targets(in.List("services"))
	if err != nil {
		return Options{}, fmt.Errorf("input services: %w", err)
	}
	if _, err := image.ParseBase(in.String("base-image")); err != nil {
		return Options{}, fmt.Errorf("input base-image: %w", err)
	}
	push, err := in.Bool("push")
	if err != nil {
		return Options{}, err
	}
	o := Options{Push: push, Prefix: strings.TrimSuffix(in.String("repository-prefix"), "/"), LayoutDir: in.String("oci-layout")}
	if push && o.Prefix == "" {
		return Options{}, fmt.Errorf("input repository-prefix is required when push is true (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor)")
	}
	if !push && o.LayoutDir == "" {
		return Options{}, fmt.Errorf("push is false but no oci-layout directory is given: set one of them")
	}
	if o.Prefix != "" {
		if _, err := name.NewRepository(o.Prefix + "/" + targets[0].Name); err != nil {
			return Options{}, fmt.Errorf("input repository-prefix %q: %w", o.Prefix, err)
		}
	}
	dir := in.String("working-directory")
	rev := in.String("revision")
	if rev == "" {
		rev = getenv("GITHUB_SHA")
	}
	if rev == "" {
		if rev, err = image.GitRevision(ctx, dir); err != nil {
			return Options{}, err
		}
	}
	src := in.String("source-url")
	if src == "" && getenv("GITHUB_REPOSITORY") != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		src = server + "/" + getenv("GITHUB_REPOSITORY")
	}
	epochEnv := getenv
	if s := in.String("source-date-epoch"); s != "" {
		epochEnv = func(k string) string {
			if k == "SOURCE_DATE_EPOCH" {
				return s
			}
			return getenv(k)
		}
	}
	epoch, err := image.SourceDateEpoch(ctx, epochEnv, dir)
	if err != nil {
		return Options{}, err
	}
	kc, err := Keychain(ctx, in.String("registry-auth"))
	if err != nil {
		return Options{}, err
	}
	o.Build = image.Options{
		Dir:       dir,
		Targets:   targets,
		Platforms: in.List("platforms"),
		Revision:  rev,
		SourceURL: src,
		Epoch:     epoch,
		Base:      in.String("base-image"),
		CacheDir:  in.String("cache-dir"),
		Keychain:  kc,
	}
	return o, nil
}

// Keychain picks how registries are logged in to: docker (the docker
// config), ecr (ecr:GetAuthorizationToken for every host) or auto (ECR hosts
// by token, the rest by the docker config).
func Keychain(ctx context.Context, mode string) (authn.Keychain, error) {
	switch mode {
	case "docker":
		return authn.DefaultKeychain, nil
	case "auto", "ecr":
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("AWS configuration for ECR auth: %w", err)
		}
		return &publish.ECRKeychain{Config: cfg, Always: mode == "ecr", Fallback: authn.DefaultKeychain}, nil
	}
	return nil, fmt.Errorf("input registry-auth %q: want auto, ecr or docker", mode)
}

// Result is what a run built and where it put it.
type Result struct {
	Revision  string
	Images    []*image.Image
	Published []publish.Result // one per image, in the order of Images
	Built     time.Duration    // time to build
	Total     time.Duration    // time to build and publish
}

// Groups folds a run's log into collapsible sections (gha.Runner does).
type Groups interface {
	Group(title string)
	EndGroup()
}

// Run builds the images and writes them to the layout and/or pushes them.
// When any push fails nothing is reported as pushed.
func Run(ctx context.Context, o Options, g Groups) (Result, error) {
	start := time.Now()
	res := Result{Revision: o.Build.Revision}
	var names []string
	for _, t := range o.Build.Targets {
		names = append(names, t.Name)
	}
	g.Group("build " + strings.Join(names, ", "))
	imgs, err := image.Build(ctx, o.Build)
	g.EndGroup()
	if err != nil {
		return res, err
	}
	res.Images, res.Built = imgs, time.Since(start)
	if o.LayoutDir != "" {
		pub, err := publish.ToLayout(o.LayoutDir, imgs, func(svc string) string {
			return strings.TrimPrefix(o.Prefix+"/", "/") + svc + ":" + o.Build.Revision
		})
		if err != nil {
			return res, err
		}
		res.Published = pub
	}
	if o.Push {
		g.Group("push to " + o.Prefix)
		var items []publish.Item
		for _, im := range imgs {
			items = append(items, publish.Item{Image: im, Repository: o.Prefix + "/" + im.Target.Name, Tag: o.Build.Revision})
		}
		pub, err := (&publish.Publisher{Keychain: o.Build.Keychain, Log: o.Build.Log}).Publish(ctx, items)
		g.EndGroup()
		if err != nil {
			return res, err
		}
		res.Published = pub
	}
	res.Total = time.Since(start)
	return res, nil
}

// Outputs are the action's outputs: image-map (service to
// repository@digest), digest-<service> and revision.
func (r Result) Outputs() (map[string]string, error) {
	outs := map[string]string{"revision": r.Revision}
	imageMap := map[string]string{}
	for _, p := range r.Published {
		imageMap[p.Service] = p.Ref
		outs["digest-"+p.Service] = p.Digest.String()
	}
	raw, err := json.Marshal(imageMap)
	if err != nil {
		return nil, fmt.Errorf("encode the image-map output: %w", err)
	}
	outs["image-map"] = string(raw)
	return outs, nil
}

// FailedOutputs are the outputs of a run that pushed nothing: every
// declared output is set on failure too, the image map empty and the
// digests blank, so no later step reads a stale or missing value.
func FailedOutputs() map[string]string {
	outs := map[string]string{"image-map": "{}", "revision": ""}
	for _, svc := range catalog.Names() {
		outs["digest-"+svc] = ""
	}
	return outs
}

// Summary is the step summary: one row per image.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### build-push %s\n\n", r.Revision)
	fmt.Fprintf(&b, "| service | platforms | digest | size | layers pushed / skipped | layer bytes pushed | SBOM |\n|---|---|---|---|---|---|---|\n")
	for i, p := range r.Published {
		var ps []string
		for _, pl := range r.Images[i].Platforms {
			ps = append(ps, pl.Platform.String())
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %d / %d | %s | %s |\n", p.Service, strings.Join(ps, ", "), p.Digest, humanBytes(p.Size), p.LayersPushed, p.LayersSkipped, humanBytes(p.LayerBytes), p.Referrers)
	}
	fmt.Fprintf(&b, "\nbuilt in %s, done in %s\n", r.Built.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
