// Package motoserver starts moto (https://github.com/getmoto/moto) in server
// mode on a free loopback port, so code that talks to AWS is tested against a
// real third-party implementation of the AWS APIs instead of hand-written mocks.
//
// If CONVEYOR_MOTO_URL is set (for example by .ci/run), that server is used
// and nothing is started. Otherwise each call to Start launches its own
// moto_server, which is stopped when the test ends.
package motoserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/conveyor-dev/conveyor/internal/testenv"
)

// Region is the region every local-world client uses.
const Region = "us-east-1"

// EnvURL names the variable that points tests at an already running moto.
const EnvURL = "CONVEYOR_MOTO_URL"

// Server is a running moto server.
type Server struct {
	URL string // http://127.0.0.1:PORT
	cmd *exec.Cmd
}

// Start returns a moto server for the test: the shared one named by
// CONVEYOR_MOTO_URL, or a fresh one on a free port. Without moto_server on
// PATH the test is skipped with a loud message, except under CI (CI=true),
// where it fails.
func Start(t testing.TB) *Server {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return &Server{URL: u}
	}
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		msg := "moto_server not found on PATH: install it with `pip install \"moto[server]\"` (.ci/run does this)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}
	s, err := Launch(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts moto_server (bin) on a free loopback port and waits until it
// answers. The caller must call Stop.
func Launch(ctx context.Context, bin string) (*Server, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("moto_server on %s did not answer within 30s: %w", s.URL, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends a server this package started; a shared server is left running.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// Config returns an AWS SDK configuration aimed at this server with static
// test credentials.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
	)
}

// Env returns the environment variables that aim a child process (a service
// binary, terraform, the aws CLI) at this server.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.URL,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing",
	}
}
