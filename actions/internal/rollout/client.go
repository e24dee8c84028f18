package rollout

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// NewClient builds the ECS client from the runner's environment (getenv, so
// tests and the action see the same thing): AWS_REGION, static credentials
// when AWS_ACCESS_KEY_ID is set (configure-aws-credentials exports them),
// and AWS_ENDPOINT_URL_ECS or AWS_ENDPOINT_URL for local stand-ins.
func NewClient(ctx context.Context, getenv func(string) string, region string) (*ecs.Client, error) {
	if region == "" {
		region = getenv("AWS_REGION")
	}
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return nil, fmt.Errorf("no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials does) or the aws-region input")
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if id := getenv("AWS_ACCESS_KEY_ID"); id != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	endpoint := getenv("AWS_ENDPOINT_URL_ECS")
	if endpoint == "" {
		endpoint = getenv("AWS_ENDPOINT_URL")
	}
	return ecs.NewFromConfig(cfg, func(o *ecs.Options) {
		// Registering and updating must get through a throttled account
		// (reads share ~20 req/s with everyone else's pollers); the watch
		// loop turns retries off per call and backs off itself.
		o.RetryMaxAttempts = 10
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
