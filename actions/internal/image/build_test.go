package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var testEpoch = time.Unix(1767225600, 0).UTC() // 2026-01-01T00:00:00Z

func TestTargetsRejectsUnknownServiceListingKnownOnes(t *testing.T) {
	_, err := Targets([]string{"api", "billing"})
	if err == nil {
		t.Fatal("unknown service accepted")
	}
	for _, want := range []string{`"billing"`, "api, dlq, worker"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	ts, err := Targets([]string{"worker", "api", "worker"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Package != "./services/worker" || ts[1].Package != "./services/api" {
		t.Errorf("targets = %+v", ts)
	}
	if _, err := Targets(nil); err == nil {
		t.Error("no services accepted")
	}
}

func TestParseBaseRequiresDigest(t *testing.T) {
	for _, tc := range []struct {
		ref     string
		wantErr string
	}{
		{"", ""},
		{"scratch", ""},
		{"gcr.io/distroless/static@sha256:" + strings.Repeat("a", 64), ""},
		{"gcr.io/distroless/static:nonroot", "not pinned by digest"},
		{"gcr.io/distroless/static", "not pinned by digest"},
		{"Not A Ref", "not a valid image reference"},
	} {
		_, err := ParseBase(tc.ref)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.ref, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want %q", tc.ref, err, tc.wantErr)
		}
	}
}

func TestTarIgnoresFileTimesAndOrder(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "bin")
	if err := os.WriteFile(f, []byte("binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(entries []entry) []byte {
		var b bytes.Buffer
		if err := writeTar(&b, entries, testEpoch); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a := write([]entry{{Name: "usr/local/bin/x", Mode: 0o755, Source: f}, {Name: "etc/passwd", Mode: 0o644, Data: []byte("x")}})
	if err := os.Chtimes(f, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := write([]entry{{Name: "etc/passwd", Mode: 0o644, Data: []byte("x")}, {Name: "/usr/local/bin/x", Mode: 0o755, Source: f}})
	if !bytes.Equal(a, b) {
		t.Fatal("same entries gave different tar bytes")
	}
	tr := tar.NewReader(bytes.NewReader(a))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(testEpoch) || h.Uid != 0 || h.Uname != "" || len(h.PAXRecords) > 0 {
			t.Errorf("%s: mtime %s uid %d uname %q pax %v", h.Name, h.ModTime, h.Uid, h.Uname, h.PAXRecords)
		}
		names = append(names, h.Name)
	}
	want := "etc/ etc/passwd usr/ usr/local/ usr/local/bin/ usr/local/bin/x"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries %q, want %q", got, want)
	}
}

// writeModule makes a throwaway module with one main package per name, each
// answering --version with the stamped main.revision.
func writeModule(t *testing.T, dir string, names ...string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/shop\n\ngo 1.26\n"), 0o644))
	for _, n := range names {
		must(t, os.MkdirAll(filepath.Join(dir, "cmd", n), 0o755))
		src := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nvar revision = \"dev\"\n\nfunc main() {\n\tif len(os.Args) > 1 && os.Args[1] == \"--version\" {\n\t\tfmt.Println(revision)\n\t\treturn\n\t}\n\tfmt.Println(\"" + n + "\")\n}\n"
		must(t, os.WriteFile(filepath.Join(dir, "cmd", n, "main.go"), []byte(src), 0o644))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestBuildIsReproducibleAcrossDirectoriesAndDays(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build for two platforms")
	}
	build := func(epoch time.Time) v1.Hash {
		dir := t.TempDir()
		writeModule(t, dir, "api")
		// Different file times, as in two checkouts on different days.
		old := time.Now().Add(-48 * time.Hour)
		must(t, os.Chtimes(filepath.Join(dir, "cmd", "api", "main.go"), old, old))
		imgs, err := Build(context.Background(), Options{
			Dir:       dir,
			Targets:   []Target{{Name: "api", Package: "./cmd/api"}},
			Revision:  "0123456789abcdef0123456789abcdef01234567",
			SourceURL: "https://github.com/conveyor-dev/conveyor",
			Epoch:     epoch,
			CacheDir:  t.TempDir(), // no shared binaries or layers between the builds
			StampVars: []string{"main.revision"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return imgs[0].Digest
	}
	a, b := build(testEpoch), build(testEpoch)
	if a != b {
		t.Fatalf("two builds of the same source gave %s and %s", a, b)
	}
	if c := build(testEpoch.Add(time.Second)); c == a {
		t.Fatalf("a different SOURCE_DATE_EPOCH gave the same digest %s: timestamps are not in the image", c)
	}
}

func TestBuildSetsConfigLabelsAndSBOM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build for two platforms")
	}
	rev := "89abcdef0123456789abcdef0123456789abcdef"
	imgs, err := Build(context.Background(), Options{
		Dir:       "testdata",
		Targets:   []Target{{Name: "api", Package: "./cmd/api"}},
		Revision:  rev,
		SourceURL: "https://github.com/conveyor-dev/conveyor",
		Epoch:     testEpoch,
		CacheDir:  t.TempDir(),
		StampVars: []string{"main.revision"},
	})
	if err != nil {
		t.Fatal(err)
	}
	im := imgs[0]
	idx, err := im.Index.IndexManifest()
	must(t, err)
	var plats []string
	for _, m := range idx.Manifests {
		plats = append(plats, m.Platform.String())
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("index platforms %v", plats)
	}
	if idx.Annotations[AnnotationRevision] != rev || idx.Annotations[AnnotationBaseName] != "scratch" {
		t.Errorf("index annotations %v", idx.Annotations)
	}
	for _, pi := range im.Platforms {
		cf, err := pi.Image.ConfigFile()
		must(t, err)
		c := cf.Config
		if c.User != "65532:65532" || c.WorkingDir != "/" || strings.Join(c.Entrypoint, " ") != "/usr/local/bin/api" {
			t.Errorf("%s: user %q workdir %q entrypoint %v", pi.Platform, c.User, c.WorkingDir, c.Entrypoint)
		}
		for k, v := range map[string]string{
			AnnotationSource:   "https://github.com/conveyor-dev/conveyor",
			AnnotationRevision: rev,
			AnnotationCreated:  "2026-01-01T00:00:00Z",
			AnnotationBaseName: "scratch",
		} {
			if c.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", pi.Platform, k, c.Labels[k], v)
			}
		}
		if !cf.Created.Time.Equal(testEpoch) || cf.Architecture != pi.Platform.Architecture {
			t.Errorf("%s: created %s arch %s", pi.Platform, cf.Created, cf.Architecture)
		}
		for _, h := range cf.History {
			if !h.Created.Time.Equal(testEpoch) {
				t.Errorf("%s: history %q created %s", pi.Platform, h.CreatedBy, h.Created)
			}
		}
		// The filesystem: CA bundle, passwd with nonroot, the binary.
		files := map[string]*tar.Header{}
		rc := mutate.Extract(pi.Image)
		tr := tar.NewReader(rc)
		var passwd []byte
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			must(t, err)
			files[h.Name] = h
			if h.Name == "etc/passwd" {
				passwd, _ = io.ReadAll(tr)
			}
		}
		rc.Close()
		for _, f := range []string{"etc/ssl/certs/ca-certificates.crt", "usr/local/bin/api", "tmp"} {
			if files[f] == nil {
				t.Errorf("%s: no %s in image", pi.Platform, f)
			}
		}
		if !strings.Contains(string(passwd), "nonroot:x:65532:65532") {
			t.Errorf("%s: passwd %q", pi.Platform, passwd)
		}
		// The SBOM names the module, the Go version and the dependency with its go.sum hash.
		m, err := pi.SBOM.Manifest()
		must(t, err)
		if m.Subject == nil || m.Subject.Digest != pi.Descriptor.Digest || m.ArtifactType != SPDXMediaType {
			t.Errorf("%s: SBOM subject %v artifactType %q", pi.Platform, m.Subject, m.ArtifactType)
		}
		raw, err := SBOMFrom(pi.SBOM)
		must(t, err)
		var doc SPDX
		must(t, json.Unmarshal(raw, &doc))
		var names []string
		found := false
		for _, p := range doc.Packages {
			names = append(names, p.Name+"@"+p.VersionInfo)
			if p.Name == "golang.org/x/sync" && strings.Contains(p.Comment, "h1:") && p.VersionInfo != "" {
				found = true
			}
		}
		if doc.SPDXVersion != "SPDX-2.3" || !found || !strings.HasPrefix(doc.Packages[1].VersionInfo, "go1.") {
			t.Errorf("%s: SBOM packages %v", pi.Platform, names)
		}
		if !strings.Contains(doc.Packages[0].Comment, "GOARCH="+pi.Platform.Architecture) {
			t.Errorf("%s: SBOM main package comment %q lacks GOARCH", pi.Platform, doc.Packages[0].Comment)
		}
	}
}

func TestBuildRejectsBadBase(t *testing.T) {
	ctx := context.Background()
	o := Options{Dir: "testdata", Targets: []Target{{Name: "api", Package: "./cmd/api"}}, Revision: "r", Epoch: testEpoch, CacheDir: t.TempDir()}
	o.Base = "registry.example/base:latest"
	if _, err := Build(ctx, o); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Errorf("unpinned base: %v", err)
	}
	// A loopback port nothing listens on: unreachable, and fast to fail.
	o.Base = "127.0.0.1:9/base@sha256:" + strings.Repeat("0", 64)
	if _, err := Build(ctx, o); err == nil || !strings.Contains(err.Error(), "cannot be fetched") {
		t.Errorf("unreachable base: %v", err)
	}
}
