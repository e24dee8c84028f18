package faultproxy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
	"github.com/conveyor-dev/conveyor/services/internal/faultproxy"
	"github.com/conveyor-dev/conveyor/services/local/provision"
)

// The faults must look to the SDK as AWS's own would: a throttle is a
// throttle, a 5xx is retryable, and a dropped answer leaves the call made.
func TestFaultsLookLikeAWSErrorsToTheSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto")
	}
	moto := motoserver.Start(t)
	p, err := faultproxy.Start(moto.URL, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	cfg, err := p.Config(ctx, motoserver.Region)
	if err != nil {
		t.Fatal(err)
	}
	w, err := provision.Create(ctx, cfg, provision.UniqueName(t.Name()), provision.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// One attempt per call, so each fault reaches the caller.
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	put := func(id string) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &w.Table, Item: map[string]types.AttributeValue{"task_id": &types.AttributeValueMemberS{Value: id}}})
		return err
	}

	p.SetPlan(faultproxy.Plan{Rate: 1, Kinds: []faultproxy.Kind{faultproxy.Throttle}})
	if err := put("a"); retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Errorf("throttle fault = %v, want an error the SDK sees as throttling", err)
	}
	p.SetPlan(faultproxy.Plan{Rate: 1, Kinds: []faultproxy.Kind{faultproxy.ServerError}})
	if err := put("a"); retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("5xx fault = %v, want a retryable error", err)
	}
	p.SetPlan(faultproxy.Plan{Rate: 1, Kinds: []faultproxy.Kind{faultproxy.DropAfter}})
	if err := put("b"); err == nil {
		t.Errorf("drop-after fault: PutItem succeeded, want a connection error")
	}
	p.SetPlan(faultproxy.Plan{Outage: true, Services: []string{"sqs"}})
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &w.Table, Key: map[string]types.AttributeValue{"task_id": &types.AttributeValueMemberS{Value: "b"}}, ConsistentRead: aws.Bool(true)})
	if err != nil || len(out.Item) == 0 {
		t.Errorf("GetItem after drop-after, during an SQS-only outage = %v, %v; want the item the dropped call wrote", out, err)
	}
	var oe interface{ ErrorCode() string }
	p.SetPlan(faultproxy.Plan{Outage: true})
	if err := put("c"); !errors.As(err, &oe) || oe.ErrorCode() != "ServiceUnavailable" {
		t.Errorf("outage = %v, want ServiceUnavailable", err)
	}
	c := p.Counts()
	if c[faultproxy.Throttle] != 1 || c[faultproxy.ServerError] != 1 || c[faultproxy.DropAfter] != 1 || c[faultproxy.Outage] != 1 {
		t.Errorf("counts %v, want one of each", c)
	}
}
