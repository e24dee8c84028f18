package realtask

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// binary is an image's entrypoint on disk, ready to exec.
type binary struct {
	path   string   // the extracted executable
	args   []string // the rest of Entrypoint, then Cmd
	env    []string // the image config's Env
	digest string   // what the reference resolved to (sha256:…)
}

// binaries pulls images and keeps their entrypoints on disk by digest, so a
// rollout that starts many tasks of one image pulls it once.
type binaries struct {
	dir string
	mu  sync.Mutex
	// one lock per digest: concurrent launches of one image wait for one pull
	inflight map[string]*sync.Mutex
	opts     []remote.Option
}

func newBinaries(dir string, opts ...remote.Option) *binaries {
	return &binaries{dir: dir, inflight: map[string]*sync.Mutex{}, opts: opts}
}

// get resolves image (pinned by digest in a deployment) for this machine's
// platform and extracts its entrypoint.
func (b *binaries) get(image string) (*binary, error) {
	// Loopback registries speak plain HTTP; name.Insecure allows that for
	// any host, which is what a local world needs.
	ref, err := name.ParseReference(image, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("CannotPullContainerError: invalid image reference %q: %w", image, err)
	}
	digest := ""
	if d, ok := ref.(name.Digest); ok {
		digest = d.DigestStr()
	} else {
		desc, err := remote.Head(ref, b.opts...)
		if err != nil {
			return nil, fmt.Errorf("CannotPullContainerError: resolve %s: %w", image, err)
		}
		digest = desc.Digest.String()
	}
	b.mu.Lock()
	l := b.inflight[digest]
	if l == nil {
		l = &sync.Mutex{}
		b.inflight[digest] = l
	}
	b.mu.Unlock()
	l.Lock()
	defer l.Unlock()

	img, err := remote.Image(ref, append(b.opts, remote.WithPlatform(v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}))...)
	if err != nil {
		return nil, fmt.Errorf("CannotPullContainerError: pull %s for %s/%s: %w", image, runtime.GOOS, runtime.GOARCH, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("CannotPullContainerError: read the config of %s: %w", image, err)
	}
	cmd := append(append([]string{}, cf.Config.Entrypoint...), cf.Config.Cmd...)
	if len(cmd) == 0 {
		return nil, fmt.Errorf("CannotStartContainerError: image %s has no entrypoint or cmd", image)
	}
	bin := &binary{args: cmd[1:], env: cf.Config.Env, digest: digest}
	dir := filepath.Join(b.dir, strings.ReplaceAll(digest, ":", "-"))
	bin.path = filepath.Join(dir, path.Base(cmd[0]))
	if _, err := os.Stat(bin.path); err == nil {
		return bin, nil
	}
	if err := extract(img, strings.TrimPrefix(path.Clean(cmd[0]), "/"), dir, bin.path); err != nil {
		return nil, fmt.Errorf("CannotPullContainerError: %s: %w", image, err)
	}
	return bin, nil
}

// extract copies one file out of the image's flattened filesystem.
func extract(img v1.Image, want, dir, dst string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("entrypoint /%s is not in the image", want)
		}
		if err != nil {
			return fmt.Errorf("read the image filesystem: %w", err)
		}
		if strings.TrimPrefix(path.Clean(h.Name), "/") != want {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("entrypoint /%s is not a regular file (tar type %c)", want, h.Typeflag)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(dir, ".extract-*")
		if err != nil {
			return err
		}
		_, err = io.Copy(tmp, tr)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o755)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write entrypoint to %s: %w", dst, err)
		}
		return nil
	}
}
