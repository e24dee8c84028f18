// Package provision creates the tasks table, the tasks queue and its
// dead-letter queue directly through the SDK, for tests, the demo and the
// benchmarks on a local world (moto). Deployed environments get the same
// resources from Terraform (infra/modules/data); the shapes match: partition
// key task_id (S), the sparse pending index, on-demand billing, redrive to the DLQ after
// maxReceiveCount.
package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

// Options shape the queues.
type Options struct {
	MaxReceiveCount   int           // deliveries before a message moves to the DLQ; default 3
	VisibilityTimeout time.Duration // the queue's default; default 30s
}

// World names the resources created.
type World struct {
	Table    string
	QueueURL string
	DLQURL   string
}

// Env returns the service environment variables for the world.
func (w World) Env() []string {
	return []string{"CONVEYOR_TABLE=" + w.Table, "CONVEYOR_QUEUE_URL=" + w.QueueURL, "CONVEYOR_DLQ_URL=" + w.DLQURL}
}

// UniqueName returns base made safe for table and queue names, with a random
// suffix, so tests sharing one moto do not collide.
func UniqueName(base string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(base, "-")
	if len(s) > 50 {
		s = s[:50]
	}
	return strings.Trim(s, "-") + "-" + hex.EncodeToString(b[:])
}

// Create makes the table name, the queue name and the DLQ name+"-dlq".
func Create(ctx context.Context, cfg aws.Config, name string, o Options) (World, error) {
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = 3
	}
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = 30 * time.Second
	}
	db := dynamodb.NewFromConfig(cfg)
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: dbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dbtypes.AttributeDefinition{
			{AttributeName: aws.String(taskstore.KeyAttr), AttributeType: dbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(taskstore.PendingAttr), AttributeType: dbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(taskstore.ClaimAttr), AttributeType: dbtypes.ScalarAttributeTypeN},
		},
		KeySchema: []dbtypes.KeySchemaElement{{AttributeName: aws.String(taskstore.KeyAttr), KeyType: dbtypes.KeyTypeHash}},
		// The sparse index of tasks not yet queued: the recovery of
		// stranded tasks queries it (infra/modules/data has the same).
		GlobalSecondaryIndexes: []dbtypes.GlobalSecondaryIndex{{
			IndexName: aws.String(taskstore.PendingIndex),
			KeySchema: []dbtypes.KeySchemaElement{
				{AttributeName: aws.String(taskstore.PendingAttr), KeyType: dbtypes.KeyTypeHash},
				{AttributeName: aws.String(taskstore.ClaimAttr), KeyType: dbtypes.KeyTypeRange},
			},
			Projection: &dbtypes.Projection{ProjectionType: dbtypes.ProjectionTypeAll},
		}},
	})
	if err != nil {
		return World{}, fmt.Errorf("create table %s: %w", name, err)
	}
	q := sqs.NewFromConfig(cfg)
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return World{}, fmt.Errorf("create queue %s-dlq: %w", name, err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return World{}, fmt.Errorf("read the ARN of %s: %w", aws.ToString(dlq.QueueUrl), err)
	}
	redrive, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     strconv.Itoa(o.MaxReceiveCount),
	})
	main, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: &name,
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameRedrivePolicy):     string(redrive),
			string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(int(o.VisibilityTimeout / time.Second)),
		},
	})
	if err != nil {
		return World{}, fmt.Errorf("create queue %s: %w", name, err)
	}
	return World{Table: name, QueueURL: aws.ToString(main.QueueUrl), DLQURL: aws.ToString(dlq.QueueUrl)}, nil
}

// Depth returns the visible and in-flight message counts of a queue.
func Depth(ctx context.Context, cfg aws.Config, url string) (visible, inflight int, err error) {
	out, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read the depth of %s: %w", url, err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inflight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inflight, nil
}
