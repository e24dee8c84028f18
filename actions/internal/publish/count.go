package publish

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// counter is an http.RoundTripper that watches the registry protocol to learn
// which blobs were found (HEAD 200), uploaded (PUT ...?digest= 201) or mounted
// from another repository, and how many request-body bytes went to blob
// uploads. It observes; it never changes a request.
type counter struct {
	next http.RoundTripper

	mu       sync.Mutex
	existing map[string]bool
	uploaded map[string]bool
	mounted  map[string]bool
	bytes    atomic.Int64
}

func newCounter(next http.RoundTripper) *counter {
	if next == nil {
		next = http.DefaultTransport
	}
	return &counter{next: next, existing: map[string]bool{}, uploaded: map[string]bool{}, mounted: map[string]bool{}}
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	isUpload := strings.Contains(req.URL.Path, "/blobs/uploads/")
	if isUpload && req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = countingBody{req.Body, &c.bytes}
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	switch {
	case req.Method == http.MethodHead && strings.Contains(req.URL.Path, "/blobs/sha256:") && resp.StatusCode == http.StatusOK:
		c.mark(c.existing, req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:])
	case isUpload && req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated:
		c.mark(c.uploaded, req.URL.Query().Get("digest"))
	case isUpload && req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated && req.URL.Query().Get("mount") != "":
		c.mark(c.mounted, req.URL.Query().Get("mount"))
	}
	return resp, nil
}

func (c *counter) mark(m map[string]bool, digest string) {
	if digest == "" {
		return
	}
	c.mu.Lock()
	m[digest] = true
	c.mu.Unlock()
}

func (c *counter) was(m map[string]bool, digest string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return m[digest]
}
