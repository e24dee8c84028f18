package publish

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/conveyor-dev/conveyor/actions/internal/image"
	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

var testEpoch = time.Unix(1767225600, 0).UTC()

const testRev = "0123456789abcdef0123456789abcdef01234567"

// startRegistry serves go-containerregistry's registry on loopback, wrapped
// by wrap (nil: as is), and returns its host:port.
func startRegistry(t *testing.T, referrers bool, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(referrers))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// dockerRegistry is Debian's docker-registry (the distribution project):
// the one .ci/run started, or one started here.
func dockerRegistry(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("CONVEYOR_DOCKER_REGISTRY"); h != "" {
		return h
	}
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		msg := "docker-registry not found: apt-get install docker-registry (.ci/run does this)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	dir := t.TempDir()
	l, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: " + dir + "/data\nhttp:\n  addr: " + l + "\n"
	must(t, os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644))
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + l + "/v2/")
		if err == nil {
			resp.Body.Close()
			return l
		}
		if i > 100 {
			t.Fatalf("docker-registry on %s did not answer: %v", l, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serviceBuild builds the three conveyor services once their mains exist,
// else the stand-in mains under image/testdata (same names, same --version).
func serviceBuild(t *testing.T, cacheDir string) image.Options {
	t.Helper()
	root := testenv.RepoRoot(t)
	real := true
	for _, svc := range catalog.Services {
		if m, _ := filepath.Glob(filepath.Join(root, svc.Package, "*.go")); len(m) == 0 {
			real = false
		}
	}
	o := image.Options{
		Revision:  testRev,
		SourceURL: "https://github.com/conveyor-dev/conveyor",
		Epoch:     testEpoch,
		CacheDir:  cacheDir,
	}
	if real {
		ts, err := image.Targets(catalog.Names())
		must(t, err)
		o.Dir, o.Targets = root, ts
		return o
	}
	t.Log("services/{api,worker,dlq} not all present yet: building the stand-in mains in image/testdata")
	o.Dir = filepath.Join(root, "actions", "internal", "image", "testdata")
	o.StampVars = []string{"main.revision"}
	for _, n := range catalog.Names() {
		o.Targets = append(o.Targets, image.Target{Name: n, Package: "./cmd/" + n})
	}
	return o
}

func build(t *testing.T, o image.Options) []*image.Image {
	t.Helper()
	imgs, err := image.Build(context.Background(), o)
	must(t, err)
	return imgs
}

func items(imgs []*image.Image, host, tag string) []Item {
	var out []Item
	for _, im := range imgs {
		out = append(out, Item{Image: im, Repository: host + "/conveyor/" + im.Target.Name, Tag: tag})
	}
	return out
}

func TestPushAllServicesAndPullThemBack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes images")
	}
	imgs := build(t, serviceBuild(t, t.TempDir()))
	for _, reg := range []struct {
		name, host, referrers string
	}{
		{"go-containerregistry", startRegistry(t, true, nil), "referrers API"},
		{"docker-registry", dockerRegistry(t), "tag fallback"},
	} {
		t.Run(reg.name, func(t *testing.T) {
			// Unique repositories per run: docker-registry may be shared.
			prefix := reg.host + "/" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + time.Now().Format("150405.000000")
			var its []Item
			for _, im := range imgs {
				its = append(its, Item{Image: im, Repository: prefix + "/" + im.Target.Name, Tag: testRev})
			}
			p := &Publisher{Keychain: authn.NewMultiKeychain()}
			res, err := p.Publish(context.Background(), its)
			must(t, err)
			for i, r := range res {
				im := imgs[i]
				// The scratch base layer (CA certificates, passwd) is the same
				// blob in all three images, and they are pushed concurrently:
				// where the registry keeps blobs globally, whichever image
				// uploads it first leaves it "already there" for the others.
				// Every other layer (the service's binaries) must be uploaded.
				if r.LayersPushed+r.LayersSkipped != r.Layers || r.LayersPushed < r.Layers-1 || r.LayerBytes == 0 || !strings.HasPrefix(r.Referrers, reg.referrers) {
					t.Errorf("%s: first push result %+v", r.Service, r)
				}
				checkPulled(t, its[i].Repository, im)
			}
		})
	}
}

// checkPulled pulls the tag back and checks what a user relies on.
func checkPulled(t *testing.T, repoName string, im *image.Image) {
	t.Helper()
	repo, err := name.NewRepository(repoName)
	must(t, err)
	idx, err := remote.Index(repo.Tag(testRev))
	must(t, err)
	d, err := idx.Digest()
	must(t, err)
	if d != im.Digest {
		t.Fatalf("%s: pulled index %s, built %s", repoName, d, im.Digest)
	}
	im2, err := idx.IndexManifest()
	must(t, err)
	var plats []string
	for _, m := range im2.Manifests {
		plats = append(plats, m.Platform.String())
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("%s: platforms %v", repoName, plats)
	}
	for _, m := range im2.Manifests {
		img, err := idx.Image(m.Digest)
		must(t, err)
		cf, err := img.ConfigFile()
		must(t, err)
		if cf.Config.User != "65532:65532" || cf.Config.Labels[image.AnnotationRevision] != testRev ||
			cf.Config.Labels[image.AnnotationSource] == "" || cf.Config.Labels[image.AnnotationCreated] != "2026-01-01T00:00:00Z" {
			t.Errorf("%s %s: user %q labels %v", repoName, m.Platform, cf.Config.User, cf.Config.Labels)
		}
		refs, err := remote.Referrers(repo.Digest(m.Digest.String()))
		must(t, err)
		rm, err := refs.IndexManifest()
		must(t, err)
		// go-containerregistry's registry reports the config media type as the
		// artifactType, so the manifest itself is read to check it.
		if len(rm.Manifests) != 1 {
			t.Fatalf("%s %s: referrers %+v", repoName, m.Platform, rm.Manifests)
		}
		sbom, err := remote.Image(repo.Digest(rm.Manifests[0].Digest.String()))
		must(t, err)
		sm, err := sbom.Manifest()
		must(t, err)
		if sm.ArtifactType != image.SPDXMediaType || sm.Subject == nil || sm.Subject.Digest != m.Digest {
			t.Errorf("%s %s: referrer artifactType %q subject %v", repoName, m.Platform, sm.ArtifactType, sm.Subject)
		}
		doc, err := image.SBOMFrom(sbom)
		must(t, err)
		if !strings.Contains(string(doc), `"SPDX-2.3"`) || !strings.Contains(string(doc), "GOARCH="+m.Platform.Architecture) {
			t.Errorf("%s %s: SBOM %.300s", repoName, m.Platform, doc)
		}
		if m.Platform.Architecture == "amd64" {
			runVersion(t, img, im.Target.Name)
		}
	}
}

// runVersion extracts the image's filesystem and runs the binary.
func runVersion(t *testing.T, img v1.Image, svc string) {
	t.Helper()
	dir := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	bin := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		if h.Name == strings.TrimPrefix(image.BinDir, "/")+"/"+svc {
			bin = filepath.Join(dir, svc)
			f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			must(t, err)
			_, err = io.Copy(f, tr)
			must(t, err)
			must(t, f.Close())
		}
	}
	if bin == "" {
		t.Fatalf("%s: no %s/%s in the image", svc, image.BinDir, svc)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v: %s", svc, err, out)
	}
	if !strings.Contains(string(out), testRev) {
		t.Errorf("%s --version printed %q, want the revision %s", svc, out, testRev)
	}
}

// writeModule makes a throwaway module with one main per name, so a test can
// change one service's source without touching the work tree.
func writeModule(t *testing.T, dir string, bodies map[string]string) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/shop\n\ngo 1.26\n"), 0o644))
	for n, body := range bodies {
		must(t, os.MkdirAll(filepath.Join(dir, "cmd", n), 0o755))
		src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(" + body + ") }\n"
		must(t, os.WriteFile(filepath.Join(dir, "cmd", n, "main.go"), []byte(src), 0o644))
	}
}

func moduleBuild(dir, cache, rev string) image.Options {
	o := image.Options{Dir: dir, Revision: rev, Epoch: testEpoch, CacheDir: cache, StampVars: []string{"main.revision"}}
	for _, n := range []string{"api", "worker", "dlq"} {
		o.Targets = append(o.Targets, image.Target{Name: n, Package: "./cmd/" + n})
	}
	return o
}

func TestRebuildWithoutChangeUploadsNothingAndChangedServiceMovesOnlyItsLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes images")
	}
	host := startRegistry(t, true, nil)
	dir, cache := t.TempDir(), t.TempDir()
	writeModule(t, dir, map[string]string{"api": `"api v1"`, "worker": `"worker v1"`, "dlq": `"dlq v1"`})
	p := &Publisher{}
	ctx := context.Background()

	first, err := p.Publish(ctx, items(build(t, moduleBuild(dir, cache, "aaaa")), host, "aaaa"))
	must(t, err)

	// Same commit again (fresh build dir and layer cache): the tag already
	// names the same digest, nothing is sent.
	again, err := p.Publish(ctx, items(build(t, moduleBuild(dir, t.TempDir(), "aaaa")), host, "aaaa"))
	must(t, err)
	for i, r := range again {
		if !r.UpToDate || r.LayerBytes != 0 || r.BytesSent != 0 || r.Digest != first[i].Digest {
			t.Errorf("%s: rebuild of the same commit: %+v", r.Service, r)
		}
	}

	// Only the worker's source changes (same stamp, new tag): the other two
	// rebuild to the same layers (HEAD finds every blob), the worker uploads
	// its two binary layers (one per platform) and reuses the base layer.
	// (A new commit changes the stamped revision, so there every binary moves.)
	writeModule(t, dir, map[string]string{"worker": `"worker v2"`})
	next, err := p.Publish(ctx, items(build(t, moduleBuild(dir, cache, "aaaa")), host, "bbbb"))
	must(t, err)
	for _, r := range next {
		switch r.Service {
		case "worker":
			if r.LayersPushed != 2 || r.LayersSkipped != 1 || r.LayerBytes == 0 {
				t.Errorf("changed worker: %+v", r)
			}
		default:
			if r.UpToDate || r.LayersPushed != 0 || r.LayerBytes != 0 || r.LayersSkipped != r.Layers {
				t.Errorf("unchanged %s: %+v", r.Service, r)
			}
		}
	}
}

func TestExistingTagWithOtherDigestIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes images")
	}
	host := startRegistry(t, true, nil)
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"api": `"one"`, "worker": `"w"`, "dlq": `"d"`})
	p := &Publisher{}
	ctx := context.Background()
	firstImgs := build(t, moduleBuild(dir, t.TempDir(), "cccc"))
	first, err := p.Publish(ctx, items(firstImgs, host, "cccc"))
	must(t, err)
	writeModule(t, dir, map[string]string{"api": `"two"`})
	res, err := p.Publish(ctx, items(build(t, moduleBuild(dir, t.TempDir(), "cccc")), host, "cccc"))
	if !errors.Is(err, ErrTagExists) || !strings.Contains(err.Error(), host+"/conveyor/api:cccc already names") {
		t.Fatalf("re-tag with another digest: %v", err)
	}
	if len(res) != 3 || res[1].LayersPushed != 0 || res[2].LayersPushed != 0 {
		t.Errorf("unchanged services should have pushed nothing: %+v", res)
	}
	d, err := remote.Head(mustRef(t, host+"/conveyor/api:cccc"))
	must(t, err)
	if d.Digest != first[0].Digest {
		t.Errorf("tag moved to %s", d.Digest)
	}
	if _, err := p.Publish(ctx, []Item{{Image: firstImgs[0], Repository: host + "/conveyor/api", Tag: "latest"}}); err == nil || !strings.Contains(err.Error(), "never latest") {
		t.Errorf("latest tag: %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	must(t, err)
	return r
}

// basicAuth demands HTTP basic credentials, as ECR does.
func basicAuth(user, pass string, seen *atomic.Int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="conveyor-test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			seen.Add(1)
			next.ServeHTTP(w, r)
		})
	}
}

func TestRegistryRefusingCredentialsIsAnAuthError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes images")
	}
	var seen atomic.Int64
	host := startRegistry(t, true, basicAuth("AWS", "right", &seen))
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"api": `"a"`, "worker": `"w"`, "dlq": `"d"`})
	imgs := build(t, moduleBuild(dir, t.TempDir(), "dddd"))
	p := &Publisher{Keychain: staticKeychain{authn.AuthConfig{Username: "AWS", Password: "wrong"}}}
	_, err := p.Publish(context.Background(), items(imgs[:1], host, "dddd"))
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "push api to "+host+"/conveyor/api") {
		t.Fatalf("wrong credentials: %v", err)
	}
	p.Keychain = staticKeychain{authn.AuthConfig{Username: "AWS", Password: "right"}}
	_, err = p.Publish(context.Background(), items(imgs[:1], host, "dddd"))
	must(t, err)
	if seen.Load() == 0 {
		t.Error("registry saw no authenticated request")
	}
}

type staticKeychain struct{ ac authn.AuthConfig }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(k.ac), nil
}

func TestTransientRegistryErrorsAreRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes images")
	}
	var failed atomic.Int64
	flaky := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The first three blob uploads fail as an overloaded registry would.
			if r.Method == http.MethodPatch && failed.Load() < 3 {
				failed.Add(1)
				http.Error(w, "overloaded", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	host := startRegistry(t, true, flaky)
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"api": `"a"`, "worker": `"w"`, "dlq": `"d"`})
	imgs := build(t, moduleBuild(dir, t.TempDir(), "eeee"))
	p := &Publisher{Backoff: remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 5}}
	res, err := p.Publish(context.Background(), items(imgs[:1], host, "eeee"))
	must(t, err)
	if failed.Load() != 3 || res[0].LayersPushed != res[0].Layers {
		t.Errorf("failures injected %d, result %+v", failed.Load(), res[0])
	}
	d, err := remote.Head(mustRef(t, host+"/conveyor/api:eeee"))
	must(t, err)
	if d.Digest != imgs[0].Digest {
		t.Errorf("tag names %s, want %s", d.Digest, imgs[0].Digest)
	}
}
