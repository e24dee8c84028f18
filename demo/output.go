package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// taskID reads the task id and the deduplicated flag from taskctl --json
// submit output.
func taskID(out []byte) (string, bool, error) {
	var resp struct {
		Task struct {
			TaskID string `json:"taskId"`
		} `json:"task"`
		Deduplicated bool `json:"deduplicated"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &resp); err != nil || resp.Task.TaskID == "" {
		return "", false, fmt.Errorf("taskctl printed %q, not a task", out)
	}
	return resp.Task.TaskID, resp.Deduplicated, nil
}

// prefixed indents what it is given, for the watch output.
type prefixed struct{}

func (prefixed) Write(p []byte) (int, error) {
	for _, line := range bytes.SplitAfter(p, []byte("\n")) {
		if len(line) > 0 {
			os.Stdout.Write(append([]byte("    "), line...))
		}
	}
	return len(p), nil
}
