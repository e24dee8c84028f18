package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Scratch names the default base: an empty image plus one layer with CA
// certificates and a non-root user, made here rather than pulled.
const Scratch = "scratch"

// NonRootUID is the user (and group) the images run as: distroless's
// "nonroot", so files and policies written for distroless images fit ours.
const NonRootUID = 65532

// DefaultCACerts is where Debian and Ubuntu (GitHub's runners) keep the CA
// bundle that goes into the scratch base.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// base is the image a service's binary layer goes on, for one platform.
type base struct {
	Name   string  // the reference as given, or "scratch"
	Digest v1.Hash // the pinned digest; zero for scratch
	Image  v1.Image
}

// baseSource hands out base images per platform, fetching a remote base once.
type baseSource struct {
	ref     string
	digest  name.Digest
	desc    *remote.Descriptor
	scratch map[string]v1.Image
	layer   v1.Layer
}

// ParseBase checks a base-image reference before anything is built: it must be
// "scratch" (or empty) or pinned by digest, so a build is a function of the
// commit and not of whatever a tag points at today.
func ParseBase(ref string) (name.Reference, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || ref == Scratch {
		return nil, nil
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("base-image %q is not a valid image reference: %w", ref, err)
	}
	d, ok := r.(name.Digest)
	if !ok {
		return nil, fmt.Errorf("base-image %q is not pinned by digest: use %s@sha256:<digest> (`crane digest %s` prints it), so the same commit always builds the same image", ref, r.Context().Name(), ref)
	}
	return d, nil
}

func newBaseSource(ctx context.Context, ref, caCerts string, mtime time.Time, cache layerCache, kc authn.Keychain) (*baseSource, error) {
	r, err := ParseBase(ref)
	if err != nil {
		return nil, err
	}
	if r == nil {
		l, err := scratchLayer(caCerts, mtime, cache)
		if err != nil {
			return nil, err
		}
		return &baseSource{ref: Scratch, scratch: map[string]v1.Image{}, layer: l}, nil
	}
	d := r.(name.Digest)
	desc, err := remote.Get(d, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc))
	if err != nil {
		return nil, fmt.Errorf("base-image %s cannot be fetched: %w: check the reference, that the registry is reachable from this runner, and its credentials", ref, err)
	}
	return &baseSource{ref: ref, digest: d, desc: desc}, nil
}

// forPlatform returns the base for one platform. A multi-platform base must
// list the platform; a single-platform base must be that platform.
func (s *baseSource) forPlatform(p v1.Platform, mtime time.Time) (base, error) {
	if s.desc == nil {
		key := p.String()
		if img, ok := s.scratch[key]; ok {
			return base{Name: Scratch, Image: img}, nil
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err := mutate.Append(img, mutate.Addendum{
			Layer: s.layer,
			History: v1.History{
				Created:   v1.Time{Time: mtime},
				CreatedBy: "conveyor: CA certificates and the nonroot user (65532)",
			},
		})
		if err != nil {
			return base{}, err
		}
		s.scratch[key] = img
		return base{Name: Scratch, Image: img}, nil
	}
	digest, err := v1.NewHash(s.digest.DigestStr())
	if err != nil {
		return base{}, err
	}
	if s.desc.MediaType.IsIndex() {
		idx, err := s.desc.ImageIndex()
		if err != nil {
			return base{}, fmt.Errorf("base-image %s: %w", s.ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return base{}, fmt.Errorf("base-image %s: %w", s.ref, err)
		}
		var have []string
		for _, m := range im.Manifests {
			if m.Platform == nil {
				continue
			}
			have = append(have, m.Platform.String())
			if m.Platform.Satisfies(p) {
				img, err := idx.Image(m.Digest)
				if err != nil {
					return base{}, fmt.Errorf("base-image %s for %s: %w", s.ref, p, err)
				}
				return base{Name: s.ref, Digest: digest, Image: img}, nil
			}
		}
		return base{}, fmt.Errorf("base-image %s has no %s image (it has %s): pick a base that covers every platform in `platforms`", s.ref, p, strings.Join(have, ", "))
	}
	img, err := s.desc.Image()
	if err != nil {
		return base{}, fmt.Errorf("base-image %s: %w", s.ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return base{}, fmt.Errorf("base-image %s: %w", s.ref, err)
	}
	if cf.OS != p.OS || cf.Architecture != p.Architecture {
		return base{}, fmt.Errorf("base-image %s is a single %s/%s image, not %s: use a multi-platform base or build only %s/%s", s.ref, cf.OS, cf.Architecture, p, cf.OS, cf.Architecture)
	}
	return base{Name: s.ref, Digest: digest, Image: img}, nil
}

// scratchLayer holds the CA bundle and passwd/group entries for root and
// nonroot, plus a world-writable /tmp, all with fixed owners and modes.
func scratchLayer(caCerts string, mtime time.Time, cache layerCache) (*fileLayer, error) {
	if caCerts == "" {
		caCerts = DefaultCACerts
	}
	if _, err := os.Stat(caCerts); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("CA certificates %s not found: install ca-certificates (apt-get install ca-certificates) or pass a base-image", caCerts)
		}
		return nil, fmt.Errorf("CA certificates %s: %w", caCerts, err)
	}
	sum, err := fileSHA256(caCerts)
	if err != nil {
		return nil, err
	}
	entries := []entry{
		{Name: "etc/passwd", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRootUID, NonRootUID))},
		{Name: "etc/group", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRootUID))},
		{Name: "etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Source: caCerts},
		{Name: "home/nonroot", Dir: true, Mode: 0o700, UID: NonRootUID, GID: NonRootUID},
		{Name: "tmp", Dir: true, Mode: 0o1777},
	}
	key := layerKey(entries, mtime, map[string]string{caCerts: sum})
	return cache.layer(key, entries, mtime, types.OCILayer)
}

// ScratchIndex is the scratch base on its own, as a multi-platform index: what
// Base "scratch" puts under every binary. It lets other tools (the benchmark's
// ko runs) build on exactly the same base.
func ScratchIndex(platforms []string, caCerts string, epoch time.Time, cacheDir string) (v1.ImageIndex, error) {
	ps, err := parsePlatforms(platforms)
	if err != nil {
		return nil, err
	}
	l, err := scratchLayer(caCerts, epoch, layerCache{dir: cacheDir})
	if err != nil {
		return nil, err
	}
	s := &baseSource{ref: Scratch, scratch: map[string]v1.Image{}, layer: l}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range ps {
		b, err := s.forPlatform(p, epoch)
		if err != nil {
			return nil, err
		}
		cf, err := b.Image.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant, cf.Created = p.OS, p.Architecture, p.Variant, v1.Time{Time: epoch}
		cf.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
		cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
		img, err := mutate.ConfigFile(b.Image, cf)
		if err != nil {
			return nil, err
		}
		pp := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pp}})
	}
	return idx, nil
}
