package config

import (
	"strings"
	"testing"
	"time"
)

func TestReaderReportsEveryProblemAtOnce(t *testing.T) {
	env := map[string]string{
		"CONVEYOR_WAIT_TIME":   "forever",
		"CONVEYOR_CONCURRENCY": "0",
		"CONVEYOR_LISTEN":      ":9090",
		"CONVEYOR_DRAIN":       "3s",
	}
	r := NewReader(func(k string) string { return env[k] })
	if got := r.String("CONVEYOR_LISTEN", ":8080"); got != ":9090" {
		t.Errorf("String = %q", got)
	}
	if got := r.Duration("CONVEYOR_DRAIN", time.Second, 0, time.Minute); got != 3*time.Second {
		t.Errorf("Duration = %s", got)
	}
	r.Required("CONVEYOR_TABLE")
	r.Duration("CONVEYOR_WAIT_TIME", 20*time.Second, 0, 20*time.Second)
	r.Int("CONVEYOR_CONCURRENCY", 8, 1, 256)
	err := r.Err()
	if err == nil {
		t.Fatal("Err = nil, want three problems")
	}
	for _, want := range []string{"CONVEYOR_TABLE is not set", `CONVEYOR_WAIT_TIME="forever"`, `CONVEYOR_CONCURRENCY="0"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestReaderDefaults(t *testing.T) {
	r := NewReader(func(string) string { return "" })
	if r.String("X", "d") != "d" || r.Duration("Y", time.Second, 0, time.Hour) != time.Second || r.Int("Z", 3, 1, 5) != 3 {
		t.Error("defaults not returned")
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err = %v", err)
	}
}
