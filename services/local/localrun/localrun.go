// Package localrun builds the service binaries and runs them as child
// processes against a local world, for the system tests, the demo and the
// benchmarks: real processes, real signals, real exit codes.
package localrun

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/conveyor-dev/conveyor/internal/testenv"
	"github.com/conveyor-dev/conveyor/services/catalog"
)

// Client is the command-line client built beside the services.
const Client = "taskctl"

// Build compiles each named service (its package from services/catalog) or
// the client into dir and returns the binaries' paths by name.
func Build(ctx context.Context, dir string, names ...string) (map[string]string, error) {
	root, err := testenv.Root()
	if err != nil {
		return nil, err
	}
	args := []string{"build", "-o", dir + string(os.PathSeparator)}
	for _, n := range names {
		pkg := "./services/" + Client
		if n != Client {
			s, err := catalog.Lookup(n)
			if err != nil {
				return nil, fmt.Errorf("build %s: %w", n, err)
			}
			pkg = s.Package
		}
		args = append(args, pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	bins := map[string]string{}
	for _, n := range names {
		bins[n] = filepath.Join(dir, n)
	}
	return bins, nil
}

// ReadyLog is what a service's log line holds once it is ready (its
// catalogue Ready message, as log/slog's JSON handler writes it): wait for it
// with WaitLog.
func ReadyLog(s catalog.Service) string { return `"msg":"` + s.Ready + `"` }

// Proc is a running service process.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu    sync.Mutex
	lines []string
	grew  chan struct{} // closed and replaced whenever a line arrives
}

// Start runs bin with the current environment plus env. Its output is kept
// for WaitLog and Logs and copied to logTo when that is not nil.
func Start(name, bin string, env []string, logTo io.Writer) (*Proc, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{}), grew: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if logTo != nil {
				fmt.Fprintf(logTo, "%s | %s\n", name, line)
			}
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-scanned
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.Pid(), err)
	}
	return nil
}

// Wait waits up to timeout for the process to exit and returns its exit
// code; after the timeout it kills the process and says so.
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("%s (pid %d) did not exit within %s; killed it", p.Name, p.Pid(), timeout)
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Proc) Stop(timeout time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_, _ = p.Wait(timeout)
}

// WaitLog waits until an output line contains every one of substrs and
// returns it.
func (p *Proc) WaitLog(timeout time.Duration, substrs ...string) (string, error) {
	deadline := time.After(timeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, grew := p.lines, p.grew
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if containsAll(lines[seen], substrs) {
				return lines[seen], nil
			}
		}
		select {
		case <-grew:
		case <-p.done:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if seen < n {
				continue // read what it wrote last
			}
			return "", fmt.Errorf("%s exited (%v) before logging %q", p.Name, p.err, substrs)
		case <-deadline:
			return "", fmt.Errorf("%s did not log %q within %s", p.Name, substrs, timeout)
		}
	}
}

// Logs returns everything the process wrote so far.
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
