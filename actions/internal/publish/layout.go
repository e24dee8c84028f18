package publish

import (
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/conveyor-dev/conveyor/actions/internal/image"
)

// ToLayout writes images and their SBOMs into an OCI image layout directory
// (created if missing). Each index is listed with the annotation
// org.opencontainers.image.ref.name = ref(service), e.g. "conveyor/api:<sha>".
func ToLayout(dir string, imgs []*image.Image, ref func(service string) string) ([]Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return nil, fmt.Errorf("oci layout %s: %w", dir, err)
		}
	}
	var out []Result
	for _, img := range imgs {
		name := ref(img.Target.Name)
		if err := p.AppendIndex(img.Index, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name})); err != nil {
			return nil, fmt.Errorf("oci layout %s: write %s: %w", dir, img.Target.Name, err)
		}
		res := Result{Service: img.Target.Name, Ref: dir + "@" + img.Digest.String(), Digest: img.Digest, Size: img.Size, Layers: len(img.Layers), LayersPushed: len(img.Layers), Referrers: "oci layout"}
		for _, pi := range img.Platforms {
			d, err := pi.SBOM.Digest()
			if err != nil {
				return nil, err
			}
			if err := p.AppendImage(pi.SBOM, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name + "-sbom-" + pi.Platform.OS + "-" + pi.Platform.Architecture})); err != nil {
				return nil, fmt.Errorf("oci layout %s: write SBOM of %s: %w", dir, img.Target.Name, err)
			}
			res.SBOMs = append(res.SBOMs, dir+"@"+d.String())
		}
		out = append(out, res)
	}
	return out, nil
}
