package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/conveyor-dev/conveyor/actions/internal/codecalls/testdata/app/shared"
)

func main() {
	q := shared.Queue{API: sqs.New(sqs.Options{})}
	_ = q.Send(context.Background())
	s := shared.Store{}
	_ = s.Get(context.Background())
}
