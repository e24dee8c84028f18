package testenv

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestRootIsTheConveyorModuleNotTheNearestGoMod(t *testing.T) {
	root := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "services", "catalog")); err != nil {
		t.Fatalf("Root() = %s, which has no services/catalog: %v", root, err)
	}
	// A go.mod of another module between here and the root (as tests write
	// into temporary copies) must be skipped, not taken.
	other := filepath.Join(t.TempDir(), "nested")
	if err := os.MkdirAll(filepath.Join(other, "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := RootFrom(filepath.Join(other, "deeper")); err == nil {
		t.Errorf("RootFrom under a foreign module = %s, want an error", got)
	}
	// A copy of the repository is a root of its own.
	copyRoot := t.TempDir()
	if err := os.WriteFile(filepath.Join(copyRoot, "go.mod"), []byte("module "+Module+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(copyRoot, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := RootFrom(filepath.Join(copyRoot, "a", "b")); err != nil || got != copyRoot {
		t.Errorf("RootFrom in a copy = %q, %v; want %s", got, err, copyRoot)
	}
}

func TestFreePortCanBeListenedOn(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on FreeAddr() %s: %v", addr, err)
	}
	l.Close()
	port, err := FreePort()
	if err != nil || port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d, %v", port, err)
	}
}
