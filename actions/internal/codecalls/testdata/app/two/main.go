package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/actions/internal/codecalls/testdata/app/shared"
)

var visibility = (*sqs.Client).ChangeMessageVisibility // a method value counts

func main() {
	q := shared.Queue{API: sqs.New(sqs.Options{})}
	_ = q.Delete(context.Background())
	shared.Store{}.Scan(context.Background())
}
