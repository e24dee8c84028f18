package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// entry is one file or directory in a layer. Content is read from Source (a
// path on disk) or Data.
type entry struct {
	Name   string // path inside the image, without a leading slash
	Dir    bool
	Mode   int64
	UID    int
	GID    int
	Data   []byte
	Source string
}

// layerFormat changes whenever the bytes writeTar produces for the same input
// change, so cached layers from an older conveyor are never reused.
const layerFormat = "conveyor-layer-v1"

// writeTar writes a reproducible tar stream: entries sorted by name, parent
// directories added, every timestamp set to mtime, no user or group names,
// and USTAR headers only, so no PAX records carry access times or other
// per-machine values.
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	all := map[string]entry{}
	for _, e := range entries {
		e.Name = strings.Trim(filepath.ToSlash(e.Name), "/")
		all[e.Name] = e
		for dir := filepath.Dir(e.Name); dir != "." && dir != "/"; dir = filepath.Dir(dir) {
			if _, ok := all[dir]; !ok {
				all[dir] = entry{Name: dir, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, n := range names {
		e := all[n]
		h := &tar.Header{
			Name:    n,
			Mode:    e.Mode,
			Uid:     e.UID,
			Gid:     e.GID,
			ModTime: mtime,
			Format:  tar.FormatUSTAR,
		}
		var body io.Reader
		switch {
		case e.Dir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case e.Source != "":
			f, err := os.Open(e.Source)
			if err != nil {
				return fmt.Errorf("layer file %s: %w", n, err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("layer file %s: %w", n, err)
			}
			h.Typeflag, h.Size, body = tar.TypeReg, st.Size(), f
		default:
			h.Typeflag, h.Size, body = tar.TypeReg, int64(len(e.Data)), bytes.NewReader(e.Data)
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("layer header %s: %w", n, err)
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return fmt.Errorf("layer content %s: %w", n, err)
			}
		}
	}
	return tw.Close()
}

// fileLayer is a gzip-compressed tar layer kept in a file, with its digests
// computed once when it was written. Keeping it on disk (not in memory) lets
// a rebuild of an unchanged binary reuse it without compressing again.
type fileLayer struct {
	path      string
	digest    v1.Hash
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
}

type layerMeta struct {
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
}

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return l.mediaType, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return gunzipFile(l.path) }

type gunzipCloser struct {
	*gzip.Reader
	f *os.File
}

func (g gunzipCloser) Close() error { g.Reader.Close(); return g.f.Close() }

func gunzipFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layer %s: %w", path, err)
	}
	return gunzipCloser{zr, f}, nil
}

// layerCache stores compressed layers by a key of their inputs.
type layerCache struct{ dir string }

// layer returns the layer for entries, compressing it only when no layer with
// the same key is cached. key must cover everything that goes into the tar
// (the caller hashes file contents, names, modes and mtime).
func (c layerCache) layer(key string, entries []entry, mtime time.Time, mt types.MediaType) (*fileLayer, error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("layer cache %s: %w", c.dir, err)
	}
	gzPath := filepath.Join(c.dir, key+".tar.gz")
	metaPath := filepath.Join(c.dir, key+".json")
	if raw, err := os.ReadFile(metaPath); err == nil {
		var m layerMeta
		if json.Unmarshal(raw, &m) == nil {
			if st, err := os.Stat(gzPath); err == nil && st.Size() == m.Size {
				d, err1 := v1.NewHash(m.Digest)
				di, err2 := v1.NewHash(m.DiffID)
				if err1 == nil && err2 == nil {
					return &fileLayer{path: gzPath, digest: d, diffID: di, size: m.Size, mediaType: mt}, nil
				}
			}
		}
	}
	tmp, err := os.CreateTemp(c.dir, key+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("layer cache %s: %w", c.dir, err)
	}
	defer os.Remove(tmp.Name())
	zsum, tsum := sha256.New(), sha256.New()
	// A fixed level and no gzip header name or time: the compressed bytes, and
	// so the layer digest, depend only on the tar bytes.
	zw, err := gzip.NewWriterLevel(io.MultiWriter(tmp, zsum), gzip.BestSpeed)
	if err != nil {
		tmp.Close()
		return nil, err
	}
	if err := writeTar(io.MultiWriter(zw, tsum), entries, mtime); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("compress layer: %w", err)
	}
	st, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	l := &fileLayer{
		path:      gzPath,
		digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(zsum.Sum(nil))},
		diffID:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(tsum.Sum(nil))},
		size:      st.Size(),
		mediaType: mt,
	}
	if err := os.Rename(tmp.Name(), gzPath); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	meta, _ := json.Marshal(layerMeta{Digest: l.digest.String(), DiffID: l.diffID.String(), Size: l.size})
	if err := os.WriteFile(metaPath, meta, 0o644); err != nil {
		return nil, fmt.Errorf("layer cache: %w", err)
	}
	return l, nil
}

// layerKey hashes everything that determines a layer's bytes.
func layerKey(entries []entry, mtime time.Time, fileSums map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n", layerFormat, mtime.Unix())
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, e := range sorted {
		fmt.Fprintf(h, "%s %t %o %d %d ", e.Name, e.Dir, e.Mode, e.UID, e.GID)
		if e.Source != "" {
			fmt.Fprintf(h, "file:%s\n", fileSums[e.Source])
		} else {
			d := sha256.Sum256(e.Data)
			fmt.Fprintf(h, "data:%x\n", d)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileSHA256 is the hex SHA-256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
