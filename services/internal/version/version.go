// Package version carries the build's revision, stamped by the image builder:
//
//	go build -ldflags "-X github.com/conveyor-dev/conveyor/services/internal/version.Revision=<git sha>"
//
// Every service main answers --version with it.
package version

// Revision is the git revision the binary was built from; "dev" when unstamped.
var Revision = "dev"
