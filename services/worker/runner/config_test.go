package runner

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsFollowTheVisibilityTimeout(t *testing.T) {
	env := map[string]string{"CONVEYOR_TABLE": "tasks", "CONVEYOR_QUEUE_URL": "http://q", "CONVEYOR_VISIBILITY_TIMEOUT": "60s"}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Heartbeat != 20*time.Second || c.WaitTime != 20*time.Second || c.BatchSize != 10 || c.StopBudget != 25*time.Second {
		t.Errorf("config %+v: want heartbeat 20s (a third of 60s), wait 20s, batch 10, stop budget 25s", c)
	}
}

func TestConfigRejectsOutOfRangeValues(t *testing.T) {
	env := map[string]string{"CONVEYOR_QUEUE_URL": "http://q", "CONVEYOR_BATCH_SIZE": "11", "CONVEYOR_WAIT_TIME": "30s"}
	_, err := ConfigFromEnv(func(k string) string { return env[k] })
	for _, want := range []string{"CONVEYOR_TABLE is not set", `CONVEYOR_BATCH_SIZE="11"`, "CONVEYOR_WAIT_TIME=30s is outside"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

// A heartbeat as long as the visibility timeout let a second worker run a
// task while the first still did (issue 12, item 4).
func TestConfigRefusesAHeartbeatThatCannotKeepTheLease(t *testing.T) {
	for _, hb := range []string{"2s", "1500ms"} {
		env := map[string]string{"CONVEYOR_TABLE": "tasks", "CONVEYOR_QUEUE_URL": "http://q", "CONVEYOR_VISIBILITY_TIMEOUT": "2s", "CONVEYOR_HEARTBEAT": hb}
		_, err := ConfigFromEnv(func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "CONVEYOR_HEARTBEAT") {
			t.Errorf("heartbeat %s with visibility 2s: error %v, want CONVEYOR_HEARTBEAT refused", hb, err)
		}
	}
	env := map[string]string{"CONVEYOR_TABLE": "tasks", "CONVEYOR_QUEUE_URL": "http://q", "CONVEYOR_VISIBILITY_TIMEOUT": "2s", "CONVEYOR_HEARTBEAT": "1s"}
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
		t.Errorf("heartbeat 1s with visibility 2s: %v, want accepted", err)
	}
}

// Tasks fit the stop budget unless the operator says otherwise: a deploy
// then lets a running task finish instead of cutting it.
func TestTaskTimeoutDefaultsToTheStopBudget(t *testing.T) {
	env := map[string]string{"CONVEYOR_TABLE": "tasks", "CONVEYOR_QUEUE_URL": "http://q", "CONVEYOR_STOP_BUDGET": "110s"}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.TaskTimeout != 110*time.Second || !c.TaskFitsStopBudget() {
		t.Errorf("config %+v, %v: want a 110s task timeout that fits the stop budget", c, err)
	}
	env["CONVEYOR_TASK_TIMEOUT"] = "20m"
	c, err = ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || c.TaskFitsStopBudget() {
		t.Errorf("config %+v, %v: a 20m timeout with a 110s budget must be reported as not fitting", c, err)
	}
}
