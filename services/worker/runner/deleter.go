package runner

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/queue"
)

// deleter batches message deletes: a batch goes out when it is full or when
// its first receipt has waited flush long.
type deleter struct {
	queue *queue.Queue
	log   *slog.Logger
	in    chan string
	done  sync.WaitGroup
}

func newDeleter(q *queue.Queue, flush time.Duration, log *slog.Logger) *deleter {
	d := &deleter{queue: q, log: log, in: make(chan string, 4*queue.MaxBatch)}
	d.done.Go(func() { d.loop(flush) })
	return d
}

func (d *deleter) add(receipt string) { d.in <- receipt }

// close flushes what is pending and waits for it.
func (d *deleter) close() {
	close(d.in)
	d.done.Wait()
}

func (d *deleter) loop(flush time.Duration) {
	var pending []string
	timer := time.NewTimer(flush)
	timer.Stop()
	send := func() {
		if len(pending) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := d.queue.Delete(ctx, pending); err != nil {
			d.log.Warn("delete failed; those tasks are finished and their duplicates will be dropped", "count", len(pending), "err", err)
		}
		pending = pending[:0]
	}
	for {
		select {
		case r, ok := <-d.in:
			if !ok {
				send()
				return
			}
			if len(pending) == 0 {
				timer.Reset(flush)
			}
			pending = append(pending, r)
			if len(pending) == queue.MaxBatch {
				timer.Stop()
				send()
			}
		case <-timer.C:
			send()
		}
	}
}
