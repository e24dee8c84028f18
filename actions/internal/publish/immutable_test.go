package publish

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// immutable refuses to move an existing tag the way an ECR repository with
// immutable tags does (400 TAG_INVALID). hideTags makes tag lookups answer 404,
// as if another job tagged between our check and our push.
func immutable(hideTags *atomic.Bool) func(http.Handler) http.Handler {
	var mu sync.Mutex
	tags := map[string]bool{}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.Index(r.URL.Path, "/manifests/")
			if i < 0 || strings.Contains(r.URL.Path[i:], "sha256:") {
				next.ServeHTTP(w, r)
				return
			}
			switch r.Method {
			case http.MethodHead, http.MethodGet:
				if hideTags.Load() {
					http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not found"}]}`, http.StatusNotFound)
					return
				}
			case http.MethodPut:
				mu.Lock()
				exists := tags[r.URL.Path]
				tags[r.URL.Path] = true
				mu.Unlock()
				if exists {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					w.Write([]byte(`{"errors":[{"code":"TAG_INVALID","message":"The image tag already exists in the repository and cannot be overwritten because the repository is immutable."}]}`))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestImmutableRepositoryRefusingTheTagIsNotReportedAsSuccess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and pushes images")
	}
	var hide atomic.Bool
	host := startRegistry(t, true, immutable(&hide))
	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"api": `"one"`, "worker": `"w"`, "dlq": `"d"`})
	p := &Publisher{}
	ctx := context.Background()
	_, err := p.Publish(ctx, items(build(t, moduleBuild(dir, t.TempDir(), "gggg"))[:1], host, "gggg"))
	must(t, err)

	writeModule(t, dir, map[string]string{"api": `"two"`})
	hide.Store(true)
	res, err := p.Publish(ctx, items(build(t, moduleBuild(dir, t.TempDir(), "gggg"))[:1], host, "gggg"))
	if !errors.Is(err, ErrTagExists) || !strings.Contains(err.Error(), "immutable") || !strings.Contains(err.Error(), "push api") {
		t.Fatalf("immutable tag refused by the registry: %v", err)
	}
	if res[0].UpToDate {
		t.Errorf("result claims success: %+v", res[0])
	}
}
