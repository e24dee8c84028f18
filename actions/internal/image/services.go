package image

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Services maps each conveyor service to its main package, relative to the
// module root. It is the one place that knows the mapping.
var Services = map[string]string{
	"api":    "./services/api",
	"worker": "./services/worker",
	"dlq":    "./services/dlq",
}

// ServiceNames lists the known services in a stable order.
func ServiceNames() []string {
	names := make([]string, 0, len(Services))
	for n := range Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Target is one image to build: a name (the service, also the repository
// suffix and the binary's name in the image) and its Go main package.
type Target struct {
	Name    string
	Package string
}

// Targets resolves service names to targets. An unknown name is an error that
// lists the known ones, so a typo in the workflow is fixed in one step.
func Targets(names []string) ([]Target, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no services given: name one or more of %s", strings.Join(ServiceNames(), ", "))
	}
	var out []Target
	seen := map[string]bool{}
	var unknown []string
	for _, n := range names {
		pkg, ok := Services[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, Target{Name: n, Package: pkg})
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown service(s) %q: known services are %s", unknown, strings.Join(ServiceNames(), ", "))
	}
	return out, nil
}

// binaryName is the file name go build gives a main package's binary when
// several packages are built into one -o directory.
func binaryName(pkg string) string { return path.Base(strings.TrimSuffix(pkg, "/")) }
