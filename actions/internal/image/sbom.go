package image

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// SPDXMediaType is the artifact type (and layer media type) of the SBOM.
const SPDXMediaType = "application/spdx+json"

// emptyJSON is the OCI 1.1 "empty descriptor" config for artifacts that
// carry no config.
var emptyJSON = []byte("{}")

const emptyMediaType types.MediaType = "application/vnd.oci.empty.v1+json"

// SPDX is the subset of an SPDX 2.3 JSON document that conveyor writes.
type SPDX struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
	Packages          []SPDXPackage      `json:"packages"`
	Relationships     []SPDXRelationship `json:"relationships"`
}

type SPDXCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type SPDXPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Comment          string            `json:"comment,omitempty"`
	ExternalRefs     []SPDXExternalRef `json:"externalRefs,omitempty"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
}

type SPDXExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type SPDXRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// SBOMFromBinary reads the build info Go embeds in every binary (module
// path, dependencies with versions and go.sum hashes, Go version, build
// settings) and writes it as SPDX 2.3 JSON. Every value comes from the binary,
// so the document is as reproducible as the binary; created is the commit time.
func SBOMFromBinary(binaryPath, imageName string, created time.Time) ([]byte, error) {
	bi, err := buildinfo.ReadFile(binaryPath)
	if err != nil {
		return nil, fmt.Errorf("sbom: read Go build info from %s: %w", binaryPath, err)
	}
	sum, err := fileSHA256(binaryPath)
	if err != nil {
		return nil, err
	}
	doc := SPDX{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        imageName,
		// The namespace must be unique per document; the binary's hash makes it
		// so without a random value.
		DocumentNamespace: "https://conveyor.dev/spdx/" + imageName + "/sha256-" + sum,
		CreationInfo: SPDXCreationInfo{
			Created:  created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: conveyor-build-push"},
		},
	}
	var settings []string
	for _, s := range bi.Settings {
		settings = append(settings, s.Key+"="+s.Value)
	}
	mainVersion := bi.Main.Version
	doc.Packages = append(doc.Packages, SPDXPackage{
		SPDXID:           "SPDXRef-Package-main",
		Name:             bi.Path,
		VersionInfo:      mainVersion,
		DownloadLocation: "NOASSERTION",
		PrimaryPurpose:   "APPLICATION",
		Comment:          "main module " + bi.Main.Path + "; binary sha256:" + sum + "; build settings: " + strings.Join(settings, " "),
		ExternalRefs:     []SPDXExternalRef{purl(bi.Main.Path, mainVersion)},
	}, SPDXPackage{
		SPDXID:           "SPDXRef-Package-stdlib",
		Name:             "stdlib",
		VersionInfo:      bi.GoVersion,
		DownloadLocation: "https://go.dev/dl/",
		ExternalRefs:     []SPDXExternalRef{purl("stdlib", bi.GoVersion)},
	})
	doc.Relationships = append(doc.Relationships,
		SPDXRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Package-main"},
		SPDXRelationship{"SPDXRef-Package-main", "DEPENDS_ON", "SPDXRef-Package-stdlib"})
	deps := append([]*debugModule(nil), toModules(bi.Deps)...)
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	for i, d := range deps {
		id := fmt.Sprintf("SPDXRef-Package-dep-%d", i)
		p := SPDXPackage{
			SPDXID:           id,
			Name:             d.Path,
			VersionInfo:      d.Version,
			DownloadLocation: "NOASSERTION",
			ExternalRefs:     []SPDXExternalRef{purl(d.Path, d.Version)},
		}
		if d.Sum != "" {
			// go.sum's h1: is a hash of the module tree, not of one file, so it
			// is not an SPDX checksum; it is kept verbatim for go mod verify.
			p.Comment = "go.sum " + d.Sum
		}
		if d.Replace != "" {
			p.Comment = strings.TrimSpace(p.Comment + "; replaced by " + d.Replace)
		}
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-Package-main", "DEPENDS_ON", id})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type debugModule struct{ Path, Version, Sum, Replace string }

func toModules(deps []*debug.Module) []*debugModule {
	out := make([]*debugModule, 0, len(deps))
	for _, d := range deps {
		m := &debugModule{Path: d.Path, Version: d.Version, Sum: d.Sum}
		if d.Replace != nil {
			m.Replace = d.Replace.Path + "@" + d.Replace.Version
			if d.Replace.Sum != "" {
				m.Sum = d.Replace.Sum
			}
		}
		out = append(out, m)
	}
	return out
}

func purl(path, version string) SPDXExternalRef {
	loc := "pkg:golang/" + path
	if version != "" && version != "(devel)" {
		loc += "@" + version
	}
	return SPDXExternalRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: loc}
}

// artifact is an OCI 1.1 artifact manifest: the empty config, one blob, and a
// subject, so registries with the referrers API list it under the image.
type artifact struct {
	manifest []byte
	blob     v1.Layer
}

// NewSBOMArtifact wraps an SPDX document as a referrer of subject.
func NewSBOMArtifact(spdx []byte, subject v1.Descriptor, created time.Time) (v1.Image, error) {
	blob := static.NewLayer(spdx, SPDXMediaType)
	bd, _ := blob.Digest()
	ed := sha256.Sum256(emptyJSON)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  SPDXMediaType,
		Config: v1.Descriptor{
			MediaType: emptyMediaType,
			Size:      int64(len(emptyJSON)),
			Digest:    v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", ed)},
			Data:      emptyJSON,
		},
		Layers: []v1.Descriptor{{MediaType: SPDXMediaType, Size: int64(len(spdx)), Digest: bd}},
		Subject: &v1.Descriptor{
			MediaType: subject.MediaType,
			Size:      subject.Size,
			Digest:    subject.Digest,
		},
		Annotations: map[string]string{"org.opencontainers.image.created": created.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &artifact{manifest: raw, blob: blob}, nil
}

func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a *artifact) Manifest() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(a.manifest))
}
func (a *artifact) Digest() (v1.Hash, error)            { return partial.Digest(a) }
func (a *artifact) Size() (int64, error)                { return partial.Size(a) }
func (a *artifact) RawConfigFile() ([]byte, error)      { return emptyJSON, nil }
func (a *artifact) ConfigName() (v1.Hash, error)        { return partial.ConfigName(a) }
func (a *artifact) ConfigFile() (*v1.ConfigFile, error) { return &v1.ConfigFile{}, nil }
func (a *artifact) Layers() ([]v1.Layer, error)         { return []v1.Layer{a.blob}, nil }
func (a *artifact) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	return a.LayerByDigest(h)
}
func (a *artifact) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if d, _ := a.blob.Digest(); d == h {
		return a.blob, nil
	}
	if c, _ := a.ConfigName(); c == h {
		return static.NewLayer(emptyJSON, emptyMediaType), nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// SBOMFrom reads the SPDX document back out of an SBOM artifact.
func SBOMFrom(img v1.Image) ([]byte, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(ls) != 1 {
		return nil, fmt.Errorf("sbom artifact has %d blobs, want 1", len(ls))
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
