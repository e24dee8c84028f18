// Command buildpushbench is bench/buildpush.sh's helper. It serves a local
// OCI registry that counts the bytes clients upload, and pushes the shared
// scratch base both conveyor and ko build on, so the two tools are compared
// against the same registry, on the same base, by the same byte counter.
//
//	buildpushbench registry ADDR_FILE   serve on a free loopback port, write host:port to ADDR_FILE
//	buildpushbench base REPOSITORY       push the scratch base, print REPOSITORY@sha256:...
//	buildpushbench bytes HOST            print "blob_bytes manifest_bytes" uploaded so far
package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/conveyor-dev/conveyor/actions/internal/image"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: buildpushbench registry ADDR_FILE | base REPOSITORY | bytes HOST")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "registry":
		err = serve(os.Args[2])
	case "base":
		err = pushBase(os.Args[2])
	case "bytes":
		err = printBytes(os.Args[2])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildpushbench:", err)
		os.Exit(1)
	}
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

func serve(addrFile string) error {
	var blobBytes, manifestBytes atomic.Int64
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_bench/bytes" {
			fmt.Fprintf(w, "%d %d\n", blobBytes.Load(), manifestBytes.Load())
			return
		}
		switch {
		case strings.Contains(r.URL.Path, "/blobs/uploads/"):
			r.Body = countingBody{r.Body, &blobBytes}
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
			r.Body = countingBody{r.Body, &manifestBytes}
		}
		reg.ServeHTTP(w, r)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile, []byte(l.Addr().String()), 0o644); err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(l)
}

func pushBase(repo string) error {
	idx, err := image.ScratchIndex(image.DefaultPlatforms, "", time.Unix(0, 0).UTC(), os.TempDir()+"/buildpushbench-layers")
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(repo + "@" + d.String())
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		return err
	}
	fmt.Println(ref.String())
	return nil
}

func printBytes(host string) error {
	resp, err := http.Get("http://" + host + "/_bench/bytes")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(os.Stdout, resp.Body)
	return err
}
