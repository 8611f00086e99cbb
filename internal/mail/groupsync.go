package mail

import "sync"

// groupSync makes many concurrent writers durable with few flushes: each
// Wait returns once a flush that began after the call has finished, and a
// flush in progress serves every writer that arrived before it began. With
// eight workers writing, one flush covers about eight emails.
type groupSync struct {
	flush func() error

	mu       sync.Mutex
	cond     *sync.Cond
	started  uint64 // flushes begun
	finished uint64 // flushes completed
	running  bool
	lastErr  error // outcome of the latest completed flush
}

func newGroupSync(flush func() error) *groupSync {
	g := &groupSync{flush: flush}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// Wait blocks until everything written before the call is durable.
func (g *groupSync) Wait() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	// A flush already running may have begun before our write: only the
	// next one is sure to cover it.
	need := g.started + 1
	for g.finished < need {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		round := g.started
		g.mu.Unlock()
		err := g.flush()
		g.mu.Lock()
		g.running = false
		g.finished = round
		g.lastErr = err
		g.cond.Broadcast()
	}
	// Any flush that completed after `need` began later still, so its
	// outcome covers our write too.
	return g.lastErr
}
