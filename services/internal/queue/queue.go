// Package queue carries task messages over SQS. Queues are addressed by the
// URL from configuration, never looked up by name, so no service needs
// sqs:GetQueueUrl.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// MaxBatch is SQS's limit on messages per receive and per batch call.
const MaxBatch = 10

// Body is what a task message carries: enough for the worker to run the
// task without reading the table (the worker has no dynamodb:GetItem).
type Body struct {
	TaskID  string `json:"task_id"`
	Type    string `json:"type"`
	Payload []byte `json:"payload,omitempty"`
}

// Message is one received message.
type Message struct {
	ID            string
	ReceiptHandle string
	Body          Body
	BodyErr       error // set when the body is not a task message
	ReceiveCount  int   // ApproximateReceiveCount: this delivery is the ReceiveCount-th
}

// Queue is one SQS queue.
type Queue struct {
	sqs *sqs.Client
	url string
}

// New returns the queue at url.
func New(client *sqs.Client, url string) *Queue { return &Queue{sqs: client, url: url} }

// URL is the queue's URL.
func (q *Queue) URL() string { return q.url }

// MaxDelay is SQS's longest message delay (DelaySeconds 0..900).
const MaxDelay = 15 * time.Minute

// Send enqueues a task message.
func (q *Queue) Send(ctx context.Context, b Body) error { return q.SendAfter(ctx, b, 0) }

// SendAfter enqueues a task message that becomes visible after delay
// (rounded down to seconds, at most MaxDelay).
func (q *Queue) SendAfter(ctx context.Context, b Body, delay time.Duration) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode message for task %s: %w", b.TaskID, err)
	}
	in := &sqs.SendMessageInput{QueueUrl: &q.url, MessageBody: aws.String(string(raw))}
	if delay > 0 {
		in.DelaySeconds = int32(min(delay, MaxDelay) / time.Second)
	}
	if _, err := q.sqs.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send task %s to %s: %w", b.TaskID, q.url, err)
	}
	return nil
}

// Receive long-polls for up to max messages (at most MaxBatch), waiting up
// to wait, and hides them for visibility.
func (q *Queue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]Message, error) {
	out, err := q.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.url,
		MaxNumberOfMessages:         int32(min(max, MaxBatch)),
		WaitTimeSeconds:             int32(wait / time.Second),
		VisibilityTimeout:           int32(visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.url, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := Message{ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle)}
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &msg.Body); err != nil {
			msg.BodyErr = fmt.Errorf("message %s on %s is not a task message: %w", msg.ID, q.url, err)
		} else if msg.Body.TaskID == "" {
			msg.BodyErr = fmt.Errorf("message %s on %s has no task_id", msg.ID, q.url)
		}
		msg.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// Extend sets one message's visibility timeout: a heartbeat for a long
// task, or a retry delay after a failure.
func (q *Queue) Extend(ctx context.Context, receipt string, visibility time.Duration) error {
	_, err := q.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &q.url, ReceiptHandle: &receipt, VisibilityTimeout: int32(visibility / time.Second),
	})
	if err != nil {
		return fmt.Errorf("change visibility of a message on %s: %w", q.url, err)
	}
	return nil
}

// ReceiveRetrying is Receive for a consumer loop: a failed receive is
// reported to onError and retried after a backoff (1s, doubling up to 30s)
// until one succeeds or ctx ends. The long poll itself is not cut short by
// ctx: SQS would still hand out an abandoned poll's messages, hidden for
// the whole visibility timeout. It ends within wait, and what it returns
// after ctx ended is still returned, for the caller to hand back or record.
// ok is false only when ctx ended with no successful receive.
func (q *Queue) ReceiveRetrying(ctx context.Context, max int, wait, visibility time.Duration, onError func(err error, retryIn time.Duration)) (msgs []Message, ok bool) {
	backoff := time.Second
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait+15*time.Second)
		msgs, err := q.Receive(rctx, max, wait, visibility)
		cancel()
		if err == nil {
			return msgs, true
		}
		if ctx.Err() != nil {
			break
		}
		onError(err, backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil, false
}

// SetVisibility sets the visibility timeout of many messages in batches of
// MaxBatch: a heartbeat for messages in hand, or 0 to hand messages back so
// another consumer takes them at once.
func (q *Queue) SetVisibility(ctx context.Context, receipts []string, visibility time.Duration) error {
	errs := inBatches(receipts, func(chunk []string) ([]types.BatchResultErrorEntry, error) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r), VisibilityTimeout: int32(visibility / time.Second)}
		}
		out, err := q.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return nil, err
		}
		return out.Failed, nil
	})
	if len(errs) > 0 {
		return fmt.Errorf("set visibility %s on %d messages on %s: %w", visibility, len(receipts), q.url, errors.Join(errs...))
	}
	return nil
}

// Delete removes messages in batches of MaxBatch.
func (q *Queue) Delete(ctx context.Context, receipts []string) error {
	errs := inBatches(receipts, func(chunk []string) ([]types.BatchResultErrorEntry, error) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, r := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r)}
		}
		out, err := q.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return nil, err
		}
		return out.Failed, nil
	})
	if len(errs) > 0 {
		return fmt.Errorf("delete messages on %s (they will be delivered again): %w", q.url, errors.Join(errs...))
	}
	return nil
}

// inBatches calls send on receipts in chunks of MaxBatch, entry ids being
// the index in the chunk, and collects the failed calls and entries: a
// failed chunk does not stop the others.
func inBatches(receipts []string, send func(chunk []string) ([]types.BatchResultErrorEntry, error)) []error {
	var errs []error
	for start := 0; start < len(receipts); start += MaxBatch {
		failed, err := send(receipts[start:min(start+MaxBatch, len(receipts))])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range failed {
			errs = append(errs, fmt.Errorf("entry %s: %s %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errs
}
