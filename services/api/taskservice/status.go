package taskservice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// backendCode is the gRPC code for an error from DynamoDB or SQS:
// UNAVAILABLE for what may pass (throttling, 5xx, dropped connections, our
// own time bound), CANCELLED when the client went away, INTERNAL for what
// will not pass by retrying (a missing table or queue, a denied call, a
// malformed request): a client told UNAVAILABLE retries for ever.
func backendCode(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.Unavailable
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary,
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary:
		return codes.Unavailable
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultServer {
		return codes.Unavailable
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return codes.Unavailable
	}
	return codes.Internal
}

// backendStatus logs err in full under a fresh reference and returns a
// status that carries the reference but no table, queue, account or request
// id: those stay in the log.
func backendStatus(log *slog.Logger, err error, what, retryHint string, attrs ...any) error {
	ref := newRef()
	code := backendCode(err)
	log.Error(what, append(attrs, "ref", ref, "code", code.String(), "err", err)...)
	switch code {
	case codes.Canceled:
		return status.Errorf(codes.Canceled, "%s: the call was cancelled (ref %s)", what, ref)
	case codes.Unavailable:
		return status.Errorf(codes.Unavailable, "%s: the backend is unavailable for now (ref %s); %s", what, ref, retryHint)
	}
	return status.Errorf(codes.Internal, "%s: server fault (ref %s); retrying will not help until the service is fixed, quote the ref to its operators", what, ref)
}

func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "ref-" + hex.EncodeToString(b[:])
}
