package ecsstandin

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// The three read calls of the service-deployments API, with the request and
// response members of aws-sdk-go-v2's ecs v1.105.1 schemas (LIST, SD-API in
// servicedeploy.go;
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html,
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html:
// "You can specify a maximum of 20 ARNs").

const maxDescribeARNs = 20

func listServiceDeployments(w *world, r req, now time.Time) (any, error) {
	if r.str("service") == "" {
		return nil, apiError{"InvalidParameterException", "service is required."}
	}
	s, err := w.service(r, "service")
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, st := range r.strs("status") {
		if !sdStatuses[st] {
			return nil, apiError{"InvalidParameterException", fmt.Sprintf("status %q is not a service deployment status (PENDING, SUCCESSFUL, STOPPED, STOP_REQUESTED, IN_PROGRESS, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED).", st)}
		}
		want[st] = true
	}
	limit := 20
	if v, ok := r["maxResults"]; ok && v != nil {
		f, isNum := v.(float64)
		if !isNum || f < 1 || f > 100 {
			return nil, apiError{"InvalidParameterException", fmt.Sprintf("maxResults %v: must be between 1 and 100.", v)}
		}
		limit = int(f)
	}
	var after, before time.Time
	if ca := r.obj("createdAt"); ca != nil {
		after, before = epochField(ca, "after"), epochField(ca, "before")
	}
	// Newest first.
	var match []*serviceDeployment
	for i := len(s.sdeps) - 1; i >= 0; i-- {
		sd := s.sdeps[i]
		if len(want) > 0 && !want[sd.status] {
			continue
		}
		if !after.IsZero() && !sd.created.After(after) || !before.IsZero() && !sd.created.Before(before) {
			continue
		}
		match = append(match, sd)
	}
	start := 0
	if tok := r.str("nextToken"); tok != "" {
		arn, ok := decodeToken(tok)
		start = -1
		for i, sd := range match {
			if ok && sd.arn == arn {
				start = i
			}
		}
		if start < 0 {
			return nil, apiError{"InvalidParameterException", "nextToken is not valid for this request: it came from another request, or its service deployment is gone."}
		}
	}
	page := []any{}
	end := min(start+limit, len(match))
	for _, sd := range match[start:end] {
		b := map[string]any{"serviceDeploymentArn": sd.arn, "serviceArn": s.arn, "clusterArn": s.cluster.arn,
			"createdAt": epoch(sd.created), "status": sd.status, "targetServiceRevisionArn": sd.target.arn}
		if !sd.started.IsZero() {
			b["startedAt"] = epoch(sd.started)
		}
		if !sd.finished.IsZero() {
			b["finishedAt"] = epoch(sd.finished)
		}
		if sd.reason != "" {
			b["statusReason"] = sd.reason
		}
		page = append(page, b)
	}
	out := map[string]any{"serviceDeployments": page}
	if end < len(match) {
		out["nextToken"] = encodeToken(match[end].arn)
	}
	return out, nil
}

func encodeToken(arn string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("sd:" + arn))
}

func decodeToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), "sd:")
}

// epochField reads a JSON 1.1 timestamp (epoch seconds).
func epochField(r req, k string) time.Time {
	f, ok := r[k].(float64)
	if !ok {
		return time.Time{}
	}
	return time.Unix(0, int64(f*1e9)).UTC()
}

func describeServiceDeployments(w *world, r req, now time.Time) (any, error) {
	arns := r.strs("serviceDeploymentArns")
	if len(arns) == 0 || len(arns) > maxDescribeARNs {
		return nil, apiError{"InvalidParameterException", fmt.Sprintf("serviceDeploymentArns: %d given; DescribeServiceDeployments takes between 1 and %d.", len(arns), maxDescribeARNs)}
	}
	out, failures := []any{}, []any{}
	for _, arn := range arns {
		sd := w.sdeps[arn]
		if sd == nil {
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		out = append(out, w.serviceDeploymentJSON(sd))
	}
	return map[string]any{"serviceDeployments": out, "failures": failures}, nil
}

func describeServiceRevisions(w *world, r req, now time.Time) (any, error) {
	arns := r.strs("serviceRevisionArns")
	if len(arns) == 0 || len(arns) > maxDescribeARNs {
		return nil, apiError{"InvalidParameterException", fmt.Sprintf("serviceRevisionArns: %d given; DescribeServiceRevisions takes between 1 and %d.", len(arns), maxDescribeARNs)}
	}
	out, failures := []any{}, []any{}
	for _, arn := range arns {
		rev := w.revisions[arn]
		if rev == nil {
			failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
			continue
		}
		out = append(out, w.serviceRevisionJSON(rev))
	}
	return map[string]any{"serviceRevisions": out, "failures": failures}, nil
}

// stopServiceDeployment is StopServiceDeployment
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stop-service-deployment.html):
// stopType ROLLBACK (the only valid value, and ours when none is given)
// moves a PENDING or IN_PROGRESS service deployment to ROLLBACK_REQUESTED
// and rolls back to the last successful revision, "even if you didn't
// configure the service deployment for the rollback option"; one already
// stopping or rolling back "continues". A deployment in the Completed stage
// cannot be stopped (ConflictException, our reading of the API's error
// list), nor one with nothing to roll back to.
func stopServiceDeployment(w *world, r req, now time.Time) (any, error) {
	arn := r.str("serviceDeploymentArn")
	sd := w.sdeps[arn]
	if sd == nil {
		return nil, apiError{"ServiceDeploymentNotFoundException", fmt.Sprintf("Service deployment %q does not exist.", arn)}
	}
	if st := r.str("stopType"); st != "" && st != "ROLLBACK" {
		return nil, apiError{"InvalidParameterException", fmt.Sprintf("stopType %q: the valid value is ROLLBACK.", st)}
	}
	out := map[string]any{"serviceDeploymentArn": sd.arn}
	switch sd.status {
	case sdStopRequested, sdRollbackRequested, sdRollbackInProgress:
		return out, nil
	case sdPending, sdInProgress:
	default:
		return nil, apiError{"ConflictException", fmt.Sprintf("Service deployment %s is %s; only an ongoing service deployment can be stopped.", sd.arn, sd.status)}
	}
	s := sd.svc
	last := s.lastCompleted(sd.dep)
	if last == nil || s.primary() != sd.dep {
		return nil, apiError{"ConflictException", fmt.Sprintf("Service deployment %s has no earlier successful service revision to roll back to.", sd.arn)}
	}
	w.rollBack(s, sd.dep, last, sd, now, "Service deployment stopped by StopServiceDeployment (ROLLBACK).")
	sd.reason = "Stopped by StopServiceDeployment: rolling back."
	return out, nil
}
