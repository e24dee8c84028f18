// Command ecs-standin runs the ECS rollout stand-in on loopback.
//
//	go run ./internal/ecsstandin/cmd/ecs-standin -addr 127.0.0.1:0 -scenario FILE -speed 60
//
// It prints the URL it serves on (aim clients there with
// AWS_ENDPOINT_URL_ECS or --endpoint-url) and runs until interrupted.
// GET /standin/stats reports call counts, throttled calls, connections, and
// the terminal times of deployments and service deployments;
// POST /standin/advance?by=30s moves the clock; PUT /standin/scenario
// replaces the scenario.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	scenario := flag.String("scenario", "", "scenario JSON file (default: every task starts healthy)")
	speed := flag.Float64("speed", 1, "virtual seconds per real second (0: the clock moves only via /standin/advance)")
	urlFile := flag.String("url-file", "", "also write the URL to this file (for scripts)")
	flag.Parse()
	if err := run(*addr, *scenario, *speed, *urlFile); err != nil {
		fmt.Fprintln(os.Stderr, "ecs-standin:", err)
		os.Exit(1)
	}
}

func run(addr, scenarioPath string, speed float64, urlFile string) error {
	var sc ecsstandin.Scenario
	if scenarioPath != "" {
		var err error
		if sc, err = ecsstandin.LoadScenario(scenarioPath); err != nil {
			return err
		}
	}
	s, err := ecsstandin.New(ecsstandin.Options{Scenario: sc, Speed: speed})
	if err != nil {
		return err
	}
	if err := s.Listen(addr); err != nil {
		return err
	}
	defer s.Close()
	fmt.Println(s.URL)
	if urlFile != "" {
		if err := os.WriteFile(urlFile, []byte(s.URL+"\n"), 0o644); err != nil {
			return fmt.Errorf("write -url-file: %w", err)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}
