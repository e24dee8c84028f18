// Package grpclb is a local gRPC load balancer for the api tasks: an HTTP/2
// (h2c) proxy on loopback that routes each request, as an ALB does for a
// target group with protocol version GRPC, to a healthy registered target.
// It health-checks targets with grpc.health.v1 Check the way the target
// group defines it (interval, timeout, healthy and unhealthy thresholds,
// gRPC code matcher) and honours the deregistration delay: a draining
// target gets no new requests while its in-flight ones finish.
package grpclb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// TargetGroup is the part of an ELBv2 target group the balancer follows.
type TargetGroup struct {
	Name string
	// Interval between health checks of one target (ALB: 5..300 s; tests
	// use less).
	Interval time.Duration
	// Timeout of one health check.
	Timeout time.Duration
	// HealthyThreshold consecutive passes make a target healthy;
	// UnhealthyThreshold consecutive failures make it unhealthy.
	HealthyThreshold   int
	UnhealthyThreshold int
	// Matcher is the set of gRPC codes that count as a pass ("0" in conveyor).
	Matcher []codes.Code
	// HealthService is the service name sent in HealthCheckRequest; ""
	// checks the whole server, as the ALB does for the path
	// /grpc.health.v1.Health/Check.
	HealthService string
	// DeregistrationDelay is how long a deregistered target drains.
	DeregistrationDelay time.Duration
}

// withDefaults fills what is unset with the ALB's defaults for a gRPC
// target group (and conveyor's 30 s deregistration delay).
func (tg TargetGroup) withDefaults() TargetGroup {
	if tg.Name == "" {
		tg.Name = "conveyor-api"
	}
	if tg.Interval <= 0 {
		tg.Interval = 30 * time.Second
	}
	if tg.Timeout <= 0 {
		tg.Timeout = 5 * time.Second
	}
	if tg.Timeout > tg.Interval {
		tg.Timeout = tg.Interval
	}
	if tg.HealthyThreshold <= 0 {
		tg.HealthyThreshold = 5
	}
	if tg.UnhealthyThreshold <= 0 {
		tg.UnhealthyThreshold = 2
	}
	if len(tg.Matcher) == 0 {
		tg.Matcher = []codes.Code{codes.OK}
	}
	if tg.DeregistrationDelay < 0 {
		tg.DeregistrationDelay = 0
	}
	return tg
}

func (tg TargetGroup) matches(c codes.Code) bool {
	for _, m := range tg.Matcher {
		if m == c {
			return true
		}
	}
	return false
}

// ParseMatcher reads an ELBv2 GrpcCode matcher: "0", "0,12" or "0-99".
func ParseMatcher(s string) ([]codes.Code, error) {
	var out []codes.Code
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 99 {
			return nil, fmt.Errorf("grpc matcher %q: %q is not a code in 0..99 (write \"0\", \"0,12\" or \"0-99\")", s, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 99 {
				return nil, fmt.Errorf("grpc matcher %q: range %q must be low-high within 0..99", s, part)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, codes.Code(c))
		}
	}
	return out, nil
}
