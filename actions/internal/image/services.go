package image

import (
	"fmt"
	"path"
	"strings"

	"github.com/conveyor-dev/conveyor/services/catalog"
)

// Target is one image to build: a name (the service, also the repository
// suffix and the binary's name in the image) and its Go main package.
type Target struct {
	Name    string
	Package string
}

// Targets resolves service names to targets from the service catalogue
// (services/catalog). An unknown name is an error that lists the known ones,
// so a typo in the workflow is fixed in one step.
func Targets(names []string) ([]Target, error) {
	known := strings.Join(catalog.Names(), ", ")
	if len(names) == 0 {
		return nil, fmt.Errorf("no services given: name one or more of %s", known)
	}
	var out []Target
	seen := map[string]bool{}
	var unknown []string
	for _, n := range names {
		svc, err := catalog.Lookup(n)
		if err != nil {
			unknown = append(unknown, n)
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, Target{Name: n, Package: svc.Package})
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown service(s) %q: known services are %s (services/catalog)", unknown, known)
	}
	return out, nil
}

// binaryName is the file name go build gives a main package's binary when
// several packages are built into one -o directory.
func binaryName(pkg string) string { return path.Base(strings.TrimSuffix(pkg, "/")) }
