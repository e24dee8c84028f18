// Command build-push is the build-push action: it builds conveyor's service
// images without a Docker daemon (package image) and pushes them to a
// registry or writes an OCI layout (package publish). It reads its inputs
// from the runner's INPUT_* variables or from --flags of the same names.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/conveyor-dev/conveyor/actions/internal/gha"
	"github.com/conveyor-dev/conveyor/actions/internal/image"
	"github.com/conveyor-dev/conveyor/actions/internal/publish"
)

var inputs = []gha.Input{
	{Name: "services", Default: strings.Join(image.ServiceNames(), ","), Usage: "services to build, comma-separated (" + strings.Join(image.ServiceNames(), ", ") + ")"},
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := gha.FromOS()
	if err := run(ctx, os.Args[1:], r); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		r.Error(gha.Annotation{Title: "build-push", Message: err.Error()})
		if !outputsWritten {
			// Every declared output is set on failure too: nothing was
			// pushed, so the image map is empty and the digests are blank.
			outs := map[string]string{"image-map": "{}", "revision": ""}
			for _, svc := range image.ServiceNames() {
				outs["digest-"+svc] = ""
			}
			_ = r.SetOutputs(outs)
		}
		os.Exit(1)
	}
}

// outputsWritten is set once run has written the real outputs.
var outputsWritten bool

func run(ctx context.Context, args []string, r *gha.Runner) error {
	in, err := gha.Parse("build-push", args, r.Getenv, inputs, r.Log())
	if err != nil {
		return err
	}
	targets, err := image.Targets(in.List("services"))
	if err != nil {
		return fmt.Errorf("input services: %w", err)
	}
	if _, err := image.ParseBase(in.String("base-image")); err != nil {
		return fmt.Errorf("input base-image: %w", err)
	}
	push, err := in.Bool("push")
	if err != nil {
		return err
	}
	prefix := strings.TrimSuffix(in.String("repository-prefix"), "/")
	layoutDir := in.String("oci-layout")
	if push && prefix == "" {
		return fmt.Errorf("input repository-prefix is required when push is true (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor)")
	}
	if !push && layoutDir == "" {
		return fmt.Errorf("push is false but no oci-layout directory is given: set one of them")
	}
	if prefix != "" {
		if _, err := name.NewRepository(prefix + "/" + targets[0].Name); err != nil {
			return fmt.Errorf("input repository-prefix %q: %w", prefix, err)
		}
	}
	dir := in.String("working-directory")
	rev := in.String("revision")
	if rev == "" {
		rev = r.Getenv("GITHUB_SHA")
	}
	if rev == "" {
		if rev, err = image.GitRevision(ctx, dir); err != nil {
			return err
		}
	}
	src := in.String("source-url")
	if src == "" && r.Getenv("GITHUB_REPOSITORY") != "" {
		server := r.Getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		src = server + "/" + r.Getenv("GITHUB_REPOSITORY")
	}
	epochEnv := r.Getenv
	if s := in.String("source-date-epoch"); s != "" {
		epochEnv = func(k string) string {
			if k == "SOURCE_DATE_EPOCH" {
				return s
			}
			return r.Getenv(k)
		}
	}
	epoch, err := image.SourceDateEpoch(ctx, epochEnv, dir)
	if err != nil {
		return err
	}
	kc, err := keychain(ctx, in.String("registry-auth"))
	if err != nil {
		return err
	}

	start := time.Now()
	r.Group("build " + strings.Join(names(targets), ", "))
	imgs, err := image.Build(ctx, image.Options{
		Dir:       dir,
		Targets:   targets,
		Platforms: in.List("platforms"),
		Revision:  rev,
		SourceURL: src,
		Epoch:     epoch,
		Base:      in.String("base-image"),
		CacheDir:  in.String("cache-dir"),
		Keychain:  kc,
		Log:       r.Log(),
	})
	r.EndGroup()
	if err != nil {
		return err
	}
	built := time.Since(start)

	var results []publish.Result
	if layoutDir != "" {
		res, err := publish.ToLayout(layoutDir, imgs, func(svc string) string {
			return strings.TrimPrefix(prefix+"/", "/") + svc + ":" + rev
		})
		if err != nil {
			return err
		}
		results = res
	}
	if push {
		r.Group("push to " + prefix)
		var items []publish.Item
		for _, im := range imgs {
			items = append(items, publish.Item{Image: im, Repository: prefix + "/" + im.Target.Name, Tag: rev})
		}
		res, err := (&publish.Publisher{Keychain: kc, Log: r.Log()}).Publish(ctx, items)
		r.EndGroup()
		if err != nil {
			// Nothing is reported as pushed when any image failed.
			return err
		}
		results = res
	}

	outs := map[string]string{}
	imageMap := map[string]string{}
	for _, res := range results {
		imageMap[res.Service] = res.Ref
		outs["digest-"+res.Service] = res.Digest.String()
	}
	raw, err := json.Marshal(imageMap)
	if err != nil {
		return err
	}
	outs["image-map"] = string(raw)
	outs["revision"] = rev
	if err := r.SetOutputs(outs); err != nil {
		return err
	}
	outputsWritten = true
	return r.Summary(summary(imgs, results, rev, built, time.Since(start)))
}

// keychain picks how registries are logged in to.
func keychain(ctx context.Context, mode string) (authn.Keychain, error) {
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

func names(ts []image.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func summary(imgs []*image.Image, results []publish.Result, rev string, built, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### build-push %s\n\n", rev)
	fmt.Fprintf(&b, "| service | platforms | digest | size | layers pushed / skipped | layer bytes pushed | SBOM |\n|---|---|---|---|---|---|---|\n")
	for i, res := range results {
		var ps []string
		for _, p := range imgs[i].Platforms {
			ps = append(ps, p.Platform.String())
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %d / %d | %s | %s |\n", res.Service, strings.Join(ps, ", "), res.Digest, humanBytes(res.Size), res.LayersPushed, res.LayersSkipped, humanBytes(res.LayerBytes), res.Referrers)
	}
	fmt.Fprintf(&b, "\nbuilt in %s, done in %s\n", built.Round(time.Millisecond), total.Round(time.Millisecond))
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
