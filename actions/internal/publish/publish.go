// Package publish puts images made by package image somewhere: any OCI
// registry (several images at once, existing blobs skipped, retries with
// backoff, tags that are never overwritten) or an OCI layout directory.
package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/conveyor-dev/conveyor/actions/internal/image"
)

// ErrTagExists is returned when a tag already names a different image. Tags
// are git SHAs: the same commit builds the same digest, so a different digest
// under the same tag means something outside the commit changed, and
// overwriting would break immutable repositories and anyone who pinned it.
var ErrTagExists = errors.New("tag already exists with a different digest")

// ErrAuth is returned when the registry refuses the credentials.
var ErrAuth = errors.New("registry refused the credentials")

// Publisher pushes images to registries.
type Publisher struct {
	Keychain  authn.Keychain    // nil means authn.DefaultKeychain
	Transport http.RoundTripper // nil means http.DefaultTransport
	Jobs      int               // images pushed at once; 0 means 3
	Backoff   remote.Backoff    // retry schedule; zero means DefaultBackoff
	Log       io.Writer
}

// DefaultBackoff retries a failed request 5 times over about 15 seconds.
var DefaultBackoff = remote.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 5}

// Item is one image to push to Repository under Tag.
type Item struct {
	Image      *image.Image
	Repository string // e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor/api
	Tag        string
}

// Result says what a push did.
type Result struct {
	Service       string
	Ref           string // repository@sha256:...
	Digest        v1.Hash
	Size          int64
	Layers        int   // layers the index references
	LayersPushed  int   // uploaded in this push
	LayersSkipped int   // already in the repository (HEAD), mounted, or the whole tag was already there
	LayerBytes    int64 // bytes of the layers uploaded
	BytesSent     int64 // every blob byte sent, layers and configs
	UpToDate      bool  // the tag already named this exact index: nothing was sent
	Referrers     string
	SBOMs         []string // repository@sha256 of each SBOM artifact
}

// Publish pushes every item, Jobs at a time. Each item is pushed by digest
// first (platform images, then the index, then the SBOMs) and tagged last, so
// a tag that exists always names a complete image with its SBOMs, and a rerun
// that finds the tag on the same digest can skip everything.
func (p *Publisher) Publish(ctx context.Context, items []Item) ([]Result, error) {
	jobs := p.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	results := make([]Result, len(items))
	errs := make([]error, len(items))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, it := range items {
		g.Go(func() error {
			results[i], errs[i] = p.one(ctx, it)
			return nil
		})
	}
	_ = g.Wait()
	return results, errors.Join(errs...)
}

func (p *Publisher) options(ctx context.Context, rt http.RoundTripper) []remote.Option {
	kc := p.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	b := p.Backoff
	if b.Steps == 0 {
		b = DefaultBackoff
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(rt),
		remote.WithRetryBackoff(b),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout),
		remote.WithJobs(4),
		remote.WithUserAgent("conveyor-build-push"),
	}
}

func (p *Publisher) one(ctx context.Context, it Item) (Result, error) {
	img := it.Image
	res := Result{Service: img.Target.Name, Digest: img.Digest, Size: img.Size, Layers: len(img.Layers)}
	fail := func(what string, err error) (Result, error) {
		return res, fmt.Errorf("push %s to %s: %s: %w", img.Target.Name, it.Repository, what, classify(err, it))
	}
	if it.Tag == "" || it.Tag == "latest" {
		return res, fmt.Errorf("push %s: tag %q refused: tags are the git SHA, never latest, so every deployment names one commit", img.Target.Name, it.Tag)
	}
	repo, err := name.NewRepository(it.Repository)
	if err != nil {
		return res, fmt.Errorf("push %s: repository %q is not valid (want host/path, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor/%s): %w", img.Target.Name, it.Repository, img.Target.Name, err)
	}
	tag := repo.Tag(it.Tag)
	byDigest := repo.Digest(img.Digest.String())
	res.Ref = byDigest.String()
	cnt := newCounter(p.Transport)
	opts := p.options(ctx, cnt)

	// The tag first: on the same digest the push is already done, on another
	// digest it must not be overwritten.
	if desc, err := remote.Head(tag, opts...); err == nil {
		if desc.Digest != img.Digest {
			return res, fmt.Errorf("push %s: %s already names %s, not the %s just built: %w; the same commit should rebuild the same digest, so check the base image, Go version and build flags, or delete the tag if you really mean to replace it (immutable ECR repositories never allow that)", img.Target.Name, tag, desc.Digest, img.Digest, ErrTagExists)
		}
		res.UpToDate = true
		res.LayersSkipped = res.Layers
		res.Referrers = "already attached"
		p.logf("%s: %s already names %s: nothing to push", img.Target.Name, tag, img.Digest)
		return res, nil
	} else if !isNotFound(err) {
		return fail("check tag "+it.Tag, err)
	}

	if err := remote.WriteIndex(byDigest, img.Index, opts...); err != nil {
		return fail("write image index", err)
	}
	for _, pi := range img.Platforms {
		d, err := pi.SBOM.Digest()
		if err != nil {
			return fail("sbom digest", err)
		}
		ref := repo.Digest(d.String())
		if err := remote.Write(ref, pi.SBOM, opts...); err != nil {
			return fail("write SBOM for "+pi.Platform.String(), err)
		}
		res.SBOMs = append(res.SBOMs, ref.String())
	}
	res.Referrers = referrersMode(repo, img.Platforms, opts)
	if err := remote.Tag(tag, img.Index, opts...); err != nil {
		return fail("tag "+it.Tag, err)
	}

	for _, l := range img.Layers {
		ds := l.String()
		if cnt.was(cnt.uploaded, ds) && !cnt.was(cnt.existing, ds) {
			res.LayersPushed++
			for _, pi := range img.Platforms {
				if ly, err := pi.Image.LayerByDigest(l); err == nil {
					sz, _ := ly.Size()
					res.LayerBytes += sz
					break
				}
			}
		}
	}
	res.LayersSkipped = res.Layers - res.LayersPushed
	res.BytesSent = cnt.bytes.Load()
	p.logf("%s: pushed %s (%d of %d layers uploaded, %d layer bytes, SBOM via %s)", img.Target.Name, res.Ref, res.LayersPushed, res.Layers, res.LayerBytes, res.Referrers)
	return res, nil
}

// referrersMode says how the SBOM is attached: the registry's referrers API,
// or go-containerregistry's fallback, the OCI referrers tag schema (an index
// tagged sha256-<subject hex> listing the referrers).
func referrersMode(repo name.Repository, ps []image.PlatformImage, opts []remote.Option) string {
	if len(ps) == 0 {
		return ""
	}
	d := ps[0].Descriptor.Digest
	tag := repo.Tag(d.Algorithm + "-" + d.Hex)
	if _, err := remote.Head(tag, opts...); err == nil {
		return "tag fallback (" + d.Algorithm + "-<subject digest>)"
	}
	return "referrers API"
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// classify turns registry errors a user can act on into clear ones.
func classify(err error, it Item) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%w (%d): %w; for ECR the role needs ecr:GetAuthorizationToken and push rights on the repository, elsewhere log in (docker login writes the credentials this action reads)", ErrAuth, te.StatusCode, err)
	}
	for _, d := range te.Errors {
		msg := strings.ToLower(d.Message)
		if d.Code == transport.TagInvalidErrorCode || strings.Contains(msg, "immutable") || strings.Contains(msg, "already exists") {
			return fmt.Errorf("%w: the registry refused to overwrite tag %s (immutable repository): %w", ErrTagExists, it.Tag, err)
		}
	}
	return err
}

func (p *Publisher) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, format+"\n", args...)
	}
}
