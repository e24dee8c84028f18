// Package testenv finds what tests, the demo and the local stand-ins need
// from the machine they run on: the conveyor repository's root and free
// loopback ports.
package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Module is conveyor's Go module path; Root looks for the go.mod that
// declares it, so a go.mod a test writes into a temporary directory is never
// taken for the repository.
const Module = "github.com/conveyor-dev/conveyor"

// Root returns the conveyor repository's root: the nearest directory at or
// above the working directory whose go.mod declares Module.
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the conveyor repository root: %w", err)
	}
	return RootFrom(wd)
}

// RootFrom is Root starting at dir.
func RootFrom(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find the conveyor repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if modulePath(filepath.Join(d, "go.mod")) == Module {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod declaring module %s at or above %s: run from the conveyor checkout", Module, dir)
		}
	}
}

// modulePath reads the module line of a go.mod, or "" when there is none.
func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// RepoRoot is Root for a test: it fails the test when there is no root.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// FreeAddr returns a loopback address ("127.0.0.1:port") that nothing
// listened on a moment ago. Another process may take it before the caller
// binds it; callers that can listen on ":0" themselves should.
func FreeAddr() (string, error) {
	a, err := free()
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// FreePort is FreeAddr's port.
func FreePort() (int, error) {
	a, err := free()
	if err != nil {
		return 0, err
	}
	return a.Port, nil
}

func free() (*net.TCPAddr, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr), nil
}
