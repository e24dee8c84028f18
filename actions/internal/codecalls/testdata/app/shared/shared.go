// Package shared is used by both mains; each main reaches only part of it.
package shared

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// QueueAPI is the narrow interface the code calls through.
type QueueAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

type Queue struct{ API QueueAPI }

func (q Queue) Send(ctx context.Context) error {
	_, err := q.API.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{})
	return err
}

func (q Queue) Delete(ctx context.Context) error {
	_, err := q.API.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{})
	return err
}

// Store calls DynamoDB directly.
type Store struct{ DB *dynamodb.Client }

func (s Store) Get(ctx context.Context) error {
	_, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{})
	return err
}

func (s Store) Scan(ctx context.Context) {
	p := dynamodb.NewScanPaginator(s.DB, &dynamodb.ScanInput{})
	_ = p
}
