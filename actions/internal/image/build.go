// Package image builds conveyor's service images without a Docker daemon: go
// build per platform, the binary in one reproducible layer on a pinned base
// (or on scratch with CA certificates and a non-root user), the platforms in
// one OCI image index, and an SPDX SBOM per platform image. It only makes
// images; package publish puts them somewhere.
package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// RevisionVar is the variable every service binary reports for --version.
const RevisionVar = "github.com/conveyor-dev/conveyor/services/internal/version.Revision"

// OCI annotation and label keys.
const (
	AnnotationSource     = "org.opencontainers.image.source"
	AnnotationRevision   = "org.opencontainers.image.revision"
	AnnotationCreated    = "org.opencontainers.image.created"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationTitle      = "org.opencontainers.image.title"
)

// BinDir is where binaries live inside the image.
const BinDir = "/usr/local/bin"

// DefaultPlatforms are the platforms built when none are given.
var DefaultPlatforms = []string{"linux/amd64", "linux/arm64"}

// Options say what to build and how.
type Options struct {
	Dir       string   // module root where go build runs; "" is the current directory
	Targets   []Target // what to build
	Platforms []string // os/arch[/variant]; nil means DefaultPlatforms
	Revision  string   // git revision stamped into binaries, labels and annotations
	SourceURL string   // repository URL for org.opencontainers.image.source
	Epoch     time.Time
	Base      string // "" or "scratch", or a reference pinned by @sha256
	CACerts   string // CA bundle for the scratch base; "" is DefaultCACerts
	// CacheDir keeps binaries (so go build can skip relinking) and compressed
	// layers; "" is the user cache directory.
	CacheDir  string
	StampVars []string // variables set to Revision with -X; nil means RevisionVar
	Keychain  authn.Keychain
	Jobs      int       // concurrent go builds and layer jobs; 0 means 2
	Log       io.Writer // progress lines; nil discards
	GoEnv     []string  // extra environment for go build (e.g. GOCACHE=...)
}

// PlatformImage is one platform's image of a service.
type PlatformImage struct {
	Platform   v1.Platform
	Image      v1.Image
	Descriptor v1.Descriptor // the image manifest's descriptor, as in the index
	Binary     string        // the built binary on disk
	SBOM       v1.Image      // SPDX artifact whose subject is this image
}

// Image is one service's multi-platform image.
type Image struct {
	Target    Target
	Index     v1.ImageIndex
	Digest    v1.Hash
	Size      int64 // bytes of every manifest, config and layer the index references
	Layers    []v1.Hash
	Platforms []PlatformImage
	BaseName  string
}

// Build builds every target for every platform. The go build runs once per
// platform for all targets (they share compiled packages), at most Jobs at a
// time; layers, SBOMs and images follow.
func Build(ctx context.Context, o Options) ([]*Image, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	platforms, err := parsePlatforms(o.Platforms)
	if err != nil {
		return nil, err
	}
	if o.Epoch.IsZero() {
		return nil, fmt.Errorf("build: no source date: set SOURCE_DATE_EPOCH or build inside a git checkout")
	}
	if o.Revision == "" {
		return nil, fmt.Errorf("build: no revision: pass the git SHA (revision input) so images are stamped and tagged with it")
	}
	seen := map[string]string{}
	for _, t := range o.Targets {
		b := binaryName(t.Package)
		if other, ok := seen[b]; ok {
			return nil, fmt.Errorf("build: %s and %s both build a binary named %q: main packages must have distinct directory names", other, t.Name, b)
		}
		seen[b] = t.Name
	}
	cache := layerCache{dir: filepath.Join(o.CacheDir, "layers")}
	bases, err := newBaseSource(ctx, o.Base, o.CACerts, o.Epoch, cache, o.Keychain)
	if err != nil {
		return nil, err
	}

	// Every platform's base before any go build, so a base that lacks a
	// platform fails in a second, not after minutes of compiling.
	baseFor := make([]base, len(platforms))
	for i, p := range platforms {
		if baseFor[i], err = bases.forPlatform(p, o.Epoch); err != nil {
			return nil, err
		}
	}

	// 1. go build, one invocation per platform.
	binDirs := make([]string, len(platforms))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Jobs)
	for i, p := range platforms {
		g.Go(func() error {
			dir, err := o.goBuild(gctx, p)
			binDirs[i] = dir
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// 2. a layer and an SBOM per binary.
	type unit struct {
		layer *fileLayer
		sbom  []byte
		bin   string
	}
	units := make([][]unit, len(o.Targets))
	g, _ = errgroup.WithContext(ctx)
	g.SetLimit(o.Jobs)
	for ti, t := range o.Targets {
		units[ti] = make([]unit, len(platforms))
		for pi, p := range platforms {
			g.Go(func() error {
				bin := filepath.Join(binDirs[pi], binaryName(t.Package))
				sum, err := fileSHA256(bin)
				if err != nil {
					return fmt.Errorf("build %s for %s: %w", t.Name, p, err)
				}
				entries := []entry{{Name: strings.TrimPrefix(BinDir, "/") + "/" + t.Name, Mode: 0o755, Source: bin}}
				l, err := cache.layer(layerKey(entries, o.Epoch, map[string]string{bin: sum}), entries, o.Epoch, types.OCILayer)
				if err != nil {
					return fmt.Errorf("build %s for %s: %w", t.Name, p, err)
				}
				sb, err := SBOMFromBinary(bin, t.Name+"-"+strings.ReplaceAll(p.String(), "/", "-"), o.Epoch)
				if err != nil {
					return fmt.Errorf("build %s for %s: %w", t.Name, p, err)
				}
				units[ti][pi] = unit{layer: l, sbom: sb, bin: bin}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// 3. images and indexes.
	var out []*Image
	for ti, t := range o.Targets {
		im := &Image{Target: t}
		var adds []mutate.IndexAddendum
		layers := map[v1.Hash]bool{}
		for pi, p := range platforms {
			b := baseFor[pi]
			im.BaseName = b.Name
			img, err := o.assemble(t, p, b, units[ti][pi].layer)
			if err != nil {
				return nil, fmt.Errorf("build %s for %s: %w", t.Name, p, err)
			}
			desc, err := descriptorOf(img)
			if err != nil {
				return nil, err
			}
			pp := p
			desc.Platform = &pp
			sbom, err := NewSBOMArtifact(units[ti][pi].sbom, desc, o.Epoch)
			if err != nil {
				return nil, err
			}
			im.Platforms = append(im.Platforms, PlatformImage{Platform: p, Image: img, Descriptor: desc, Binary: units[ti][pi].bin, SBOM: sbom})
			adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pp}})
			ls, err := img.Layers()
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				d, err := l.Digest()
				if err != nil {
					return nil, err
				}
				if !layers[d] {
					layers[d] = true
					im.Layers = append(im.Layers, d)
					sz, _ := l.Size()
					im.Size += sz
				}
			}
			m, _ := img.RawManifest()
			cfg, _ := img.RawConfigFile()
			im.Size += int64(len(m) + len(cfg))
		}
		idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		idx = mutate.AppendManifests(idx, adds...)
		bn, bd := bases.annotations()
		idx = mutate.Annotations(idx, o.annotations(t, bn, bd)).(v1.ImageIndex)
		d, err := idx.Digest()
		if err != nil {
			return nil, fmt.Errorf("build %s: index: %w", t.Name, err)
		}
		raw, _ := idx.RawManifest()
		im.Size += int64(len(raw))
		im.Index, im.Digest = idx, d
		o.logf("built %s %s (%d platforms, %d layers, %d bytes)", t.Name, d, len(platforms), len(im.Layers), im.Size)
		out = append(out, im)
	}
	return out, nil
}

func (s *baseSource) annotations() (string, string) {
	if s.desc == nil {
		return Scratch, ""
	}
	return s.ref, s.digest.DigestStr()
}

func descriptorOf(img v1.Image) (v1.Descriptor, error) {
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	sz, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: sz}, nil
}

func (o *Options) annotations(t Target, baseName, baseDigest string) map[string]string {
	a := map[string]string{
		AnnotationRevision: o.Revision,
		AnnotationCreated:  o.Epoch.UTC().Format(time.RFC3339),
		AnnotationTitle:    t.Name,
		AnnotationBaseName: baseName,
	}
	if o.SourceURL != "" {
		a[AnnotationSource] = o.SourceURL
	}
	// scratch has no digest to name; the key is left out rather than faked.
	if baseDigest != "" {
		a[AnnotationBaseDigest] = baseDigest
	}
	return a
}

// assemble puts the binary layer on the base and sets the config.
func (o *Options) assemble(t Target, p v1.Platform, b base, l *fileLayer) (v1.Image, error) {
	img := b.Image
	if mt, err := img.MediaType(); err == nil && !mt.IsImage() {
		return nil, fmt.Errorf("base %s is %s, not an image", b.Name, mt)
	}
	// A Docker-typed base keeps Docker layer types, so the manifest is consistent.
	if mt, _ := img.MediaType(); mt == types.DockerManifestSchema2 {
		l = &fileLayer{path: l.path, digest: l.digest, diffID: l.diffID, size: l.size, mediaType: types.DockerLayer}
	}
	img, err := mutate.Append(img, mutate.Addendum{
		Layer: l,
		History: v1.History{
			Created:   v1.Time{Time: o.Epoch},
			CreatedBy: fmt.Sprintf("conveyor build-push: go build %s (%s)", t.Package, o.Revision),
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: o.Epoch}
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Author = ""
	cf.Config.Entrypoint = []string{BinDir + "/" + t.Name}
	cf.Config.Cmd = nil
	cf.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cf.Config.WorkingDir = "/"
	cf.Config.Env = setEnv(cf.Config.Env, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	if b.Digest == (v1.Hash{}) {
		cf.Config.Env = setEnv(cf.Config.Env, "SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
	}
	baseDigest := ""
	if b.Digest != (v1.Hash{}) {
		baseDigest = b.Digest.String()
	}
	labels := o.annotations(t, b.Name, baseDigest)
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range labels {
		cf.Config.Labels[k] = v
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// goBuild builds every target for one platform into a directory that is kept
// between runs: go build leaves an up-to-date binary alone instead of linking
// it again, which is most of a no-op rebuild's time.
func (o *Options) goBuild(ctx context.Context, p v1.Platform) (string, error) {
	h := sha256.Sum256([]byte(o.Dir))
	dir := filepath.Join(o.CacheDir, "bin", hex.EncodeToString(h[:6]), strings.ReplaceAll(p.String(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("go build for %s: %w", p, err)
	}
	ldflags := []string{"-s", "-w"}
	for _, v := range o.StampVars {
		ldflags = append(ldflags, "-X", v+"="+o.Revision)
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=" + strings.Join(ldflags, " "), "-o", dir + string(filepath.Separator)}
	var pkgs []string
	for _, t := range o.Targets {
		pkgs = append(pkgs, t.Package)
	}
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Dir
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Architecture == "arm" && p.Variant != "" {
		env = append(env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	cmd.Env = append(env, o.GoEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s for %s in %s failed: %w\n%s", strings.Join(pkgs, " "), p, o.Dir, err, strings.TrimSpace(stderr.String()))
	}
	o.logf("go build %s for %s: %s", strings.Join(pkgs, " "), p, time.Since(start).Round(time.Millisecond))
	return dir, nil
}

func (o *Options) defaults() error {
	if len(o.Targets) == 0 {
		return fmt.Errorf("build: no targets")
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = abs
	if len(o.Platforms) == 0 {
		o.Platforms = DefaultPlatforms
	}
	if o.CacheDir == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			ucd = os.TempDir()
		}
		o.CacheDir = filepath.Join(ucd, "conveyor", "build-push")
	}
	if o.StampVars == nil {
		o.StampVars = []string{RevisionVar}
	}
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.Jobs <= 0 {
		o.Jobs = 2
	}
	o.Epoch = o.Epoch.UTC()
	return nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

func parsePlatforms(ps []string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]bool{}
	for _, s := range ps {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q is not os/arch[/variant] (e.g. linux/amd64)", s)
		}
		if seen[p.String()] {
			continue
		}
		seen[p.String()] = true
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// SourceDateEpoch is the time every timestamp in the image is set to:
// SOURCE_DATE_EPOCH when given (reproducible-builds.org), else the commit
// time of HEAD in dir, so a rebuild of the same commit on another day gives
// the same digests.
func SourceDateEpoch(ctx context.Context, getenv func(string) string, dir string) (time.Time, error) {
	if s := strings.TrimSpace(getenv("SOURCE_DATE_EPOCH")); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a Unix time in seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	out, err := gitOutput(ctx, dir, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return time.Time{}, fmt.Errorf("no SOURCE_DATE_EPOCH and no commit time from git in %s: %w: set SOURCE_DATE_EPOCH or check out the repository with git history", dir, err)
	}
	n, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("git commit time %q in %s: %w", out, dir, err)
	}
	return time.Unix(n, 0).UTC(), nil
}

// GitRevision is HEAD's commit SHA in dir.
func GitRevision(ctx context.Context, dir string) (string, error) {
	out, err := gitOutput(ctx, dir, "rev-parse", "HEAD")
	if err != nil {
		return "", fmt.Errorf("git revision of %s: %w: pass the revision input", dir, err)
	}
	return out, nil
}

func gitOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
