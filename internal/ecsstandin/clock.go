package ecsstandin

import (
	"sync"
	"time"
)

// Clock is the stand-in's notion of time. Rollouts take minutes in ECS; the
// clock lets a test move them along by hand (Advance) or run them faster
// than real time (a speed factor), so nobody waits real minutes.
type Clock struct {
	mu        sync.Mutex
	speed     float64   // virtual seconds per real second; 0 means manual only
	realBase  time.Time // real time when speed was last set
	virtBase  time.Time // virtual time at realBase
	advanced  time.Duration
	realClock func() time.Time
}

// NewClock returns a clock starting at start. speed 0 means time moves only
// through Advance; speed 60 turns a real second into a virtual minute.
func NewClock(start time.Time, speed float64) *Clock {
	return &Clock{speed: speed, realBase: time.Now(), virtBase: start, realClock: time.Now}
}

// Now is the current virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	elapsed := c.realClock().Sub(c.realBase)
	return c.virtBase.Add(c.advanced + time.Duration(float64(elapsed)*c.speed))
}

// Advance moves virtual time forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanced += d
}

// Speed is the current speed factor.
func (c *Clock) Speed() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speed
}

// SetSpeed changes the speed factor from now on.
func (c *Clock) SetSpeed(speed float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowLocked()
	c.realBase, c.virtBase, c.advanced, c.speed = c.realClock(), now, 0, speed
}

// RealTime converts a virtual instant into the real instant at which the
// clock showed it (ignoring manual advances made since). Benchmarks use it to
// compare "the stand-in reached a terminal state" with "the tool exited".
func (c *Clock) RealTime(v time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.speed == 0 {
		return time.Time{}
	}
	d := v.Sub(c.virtBase) - c.advanced
	return c.realBase.Add(time.Duration(float64(d) / c.speed))
}
