package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestBuildOnPinnedBaseRecordsItsNameAndDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build and a registry")
	}
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer s.Close()
	host := strings.TrimPrefix(s.URL, "http://")
	base, err := ScratchIndex(DefaultPlatforms, "", testEpoch, t.TempDir())
	must(t, err)
	bd, err := base.Digest()
	must(t, err)
	baseRef := host + "/base/static@" + bd.String()
	ref, err := name.ParseReference(baseRef)
	must(t, err)
	must(t, remote.WriteIndex(ref, base))

	imgs, err := Build(context.Background(), Options{
		Dir:       "testdata",
		Targets:   []Target{{Name: "worker", Package: "./cmd/worker"}},
		Revision:  "r1",
		Epoch:     testEpoch,
		Base:      baseRef,
		CacheDir:  t.TempDir(),
		StampVars: []string{"main.revision"},
	})
	must(t, err)
	im := imgs[0]
	idx, err := im.Index.IndexManifest()
	must(t, err)
	if idx.Annotations[AnnotationBaseName] != baseRef || idx.Annotations[AnnotationBaseDigest] != bd.String() {
		t.Errorf("index annotations %v", idx.Annotations)
	}
	for _, pi := range im.Platforms {
		cf, err := pi.Image.ConfigFile()
		must(t, err)
		ls, err := pi.Image.Layers()
		must(t, err)
		if cf.Config.Labels[AnnotationBaseDigest] != bd.String() || len(ls) != 2 || cf.Config.User != "65532:65532" {
			t.Errorf("%s: labels %v, %d layers, user %q", pi.Platform, cf.Config.Labels, len(ls), cf.Config.User)
		}
	}

	// A base that lacks a requested platform is refused with what it has.
	_, err = Build(context.Background(), Options{
		Dir: "testdata", Targets: []Target{{Name: "worker", Package: "./cmd/worker"}}, Revision: "r1", Epoch: testEpoch,
		Base: baseRef, CacheDir: t.TempDir(), Platforms: []string{"linux/s390x"},
	})
	if err == nil || !strings.Contains(err.Error(), "has no linux/s390x image") {
		t.Errorf("missing platform: %v", err)
	}
}
