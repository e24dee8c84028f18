// Package config reads a service's configuration from environment variables
// (see notes in the README): CONVEYOR_TABLE, CONVEYOR_QUEUE_URL,
// CONVEYOR_DLQ_URL, CONVEYOR_LISTEN and per-service tuning variables. The
// AWS SDK reads AWS_REGION and AWS_ENDPOINT_URL itself.
package config

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Getenv reads one variable; os.Getenv in production, a map in tests.
type Getenv func(string) string

// Reader collects every problem with the environment before failing, so one
// run shows all of them.
type Reader struct {
	getenv Getenv
	errs   []error
}

// NewReader reads from getenv.
func NewReader(getenv Getenv) *Reader { return &Reader{getenv: getenv} }

// Required returns a variable that must be set.
func (r *Reader) Required(name string) string {
	v := r.getenv(name)
	if v == "" {
		r.errs = append(r.errs, fmt.Errorf("%s is not set", name))
	}
	return v
}

// String returns a variable or its default.
func (r *Reader) String(name, def string) string {
	if v := r.getenv(name); v != "" {
		return v
	}
	return def
}

// Duration returns a duration variable ("20s") or its default; it must lie
// in [min, max].
func (r *Reader) Duration(name string, def, min, max time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s=%q is not a duration such as \"20s\"", name, v))
		return def
	}
	if d < min || d > max {
		r.errs = append(r.errs, fmt.Errorf("%s=%s is outside %s..%s", name, d, min, max))
		return def
	}
	return d
}

// Int returns an integer variable or its default; it must lie in [min, max].
func (r *Reader) Int(name string, def, min, max int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.errs = append(r.errs, fmt.Errorf("%s=%q must be an integer in %d..%d", name, v, min, max))
		return def
	}
	return n
}

// Err returns every problem found, joined, or nil.
func (r *Reader) Err() error {
	if len(r.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w (set the variables in the task definition, or in the environment for a local run)", errors.Join(r.errs...))
}

// AWS loads the SDK configuration: region from AWS_REGION, endpoint from
// AWS_ENDPOINT_URL (local runs), credentials from the task role.
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("load AWS configuration: AWS_REGION is not set")
	}
	return cfg, nil
}
