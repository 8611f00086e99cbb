package mail

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGroupSyncCoversEveryWaiter(t *testing.T) {
	var (
		flushes atomic.Int64
		written atomic.Int64 // writes made before the flush in progress began
		covered atomic.Int64
		gate    = make(chan struct{})
	)
	g := newGroupSync(func() error {
		covered.Store(written.Load())
		flushes.Add(1)
		<-gate
		return nil
	})
	const writers = 50
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			n := written.Add(1)
			if err := g.Wait(); err != nil {
				t.Error(err)
			}
			if covered.Load() < n {
				t.Errorf("write %d returned before a flush covered it (covered %d)", n, covered.Load())
			}
		})
	}
	go func() {
		for {
			select {
			case gate <- struct{}{}:
			case <-t.Context().Done():
				return
			}
		}
	}()
	wg.Wait()
	if f := flushes.Load(); f < 1 || f > writers {
		t.Fatalf("%d flushes for %d writers", f, writers)
	}
}

func TestGroupSyncReportsFlushError(t *testing.T) {
	boom := errors.New("disk full")
	g := newGroupSync(func() error { return boom })
	if err := g.Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait = %v, want %v", err, boom)
	}
}
