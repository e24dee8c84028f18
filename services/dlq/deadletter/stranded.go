package deadletter

import (
	"context"
	"errors"
	"time"

	"github.com/conveyor-dev/conveyor/services/internal/queue"
	"github.com/conveyor-dev/conveyor/services/internal/taskstore"
)

// RecoverClaim is how long recovery holds a stranded task's enqueue claim
// while it sends the message.
const RecoverClaim = 10 * time.Second

// recoverLoop queues stranded tasks every RecoveryInterval until ctx ends.
func (d *Drainer) recoverLoop(ctx context.Context) {
	tick := time.NewTicker(d.cfg.RecoveryInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		d.Recover(ctx)
	}
}

// Recover queues the tasks left ACCEPTED past their enqueue claim (a crash,
// a forced stop, a failed SendMessage or a client that went away between
// PutItem and SendMessage), claiming each first so an api call or another
// dlq replica does not send it too. It returns how many it queued.
func (d *Drainer) Recover(ctx context.Context) int {
	n := 0
	for ctx.Err() == nil {
		tasks, err := d.store.Pending(ctx, 100)
		if err != nil {
			d.log.Error("recovery: could not list stranded tasks; trying again next interval", "err", err)
			return n
		}
		progress := 0
		for _, t := range tasks {
			log := d.log.With("task_id", t.ID)
			claimed, err := d.store.ClaimEnqueue(ctx, t.ID, RecoverClaim)
			var te *taskstore.TransitionError
			if errors.As(err, &te) {
				continue // queued meanwhile, or someone else holds the claim
			}
			if err != nil {
				log.Error("recovery: could not claim a stranded task", "err", err)
				continue
			}
			progress++
			if err := d.tasks.Send(ctx, queue.Body{TaskID: claimed.ID, Type: claimed.Type, Payload: claimed.Payload}); err != nil {
				log.Error("recovery: could not queue a stranded task; its claim lapses and it is tried again", "err", err)
				continue
			}
			if err := d.store.MarkQueued(ctx, claimed.ID); err != nil {
				log.Warn("recovery: task queued but not marked QUEUED; a worker moves it on", "err", err)
			}
			n++
			log.Warn("recovery: queued a task stranded in ACCEPTED", "created_at", claimed.CreatedAt)
		}
		if len(tasks) < 100 || progress == 0 {
			return n
		}
	}
	return n
}
