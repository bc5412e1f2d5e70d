package scaleout

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// acker hands the positions the partition runs were acknowledged up to on
// to the coordinator, which commits them to the group for lag tools. It
// does so on a goroutine of its own, newest positions only: a partition
// run never waits for it, so a commit held up by a rebalance cannot hold
// up the checkpoint that rebalance waits for.
type acker struct {
	src sdk.Acker // nil: the coordinator takes no acks
	log io.Writer

	mu      sync.Mutex
	pending map[string]sdk.Position
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

func newAcker(src sdk.Source, log io.Writer) *acker {
	a := &acker{log: log, pending: map[string]sdk.Position{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	a.src, _ = src.(sdk.Acker)
	go a.run()
	return a
}

// add queues positions for the next commit.
func (a *acker) add(pos []sdk.Position) {
	if a.src == nil {
		return
	}
	a.mu.Lock()
	for _, p := range pos {
		a.pending[p.Partition] = p
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *acker) run() {
	defer close(a.done)
	for {
		select {
		case <-a.wake:
			a.flush()
		case <-a.stop:
			a.flush()
			return
		}
	}
}

// flush acknowledges what is pending.
func (a *acker) flush() {
	a.mu.Lock()
	pos := slices.SortedFunc(maps.Values(a.pending), func(x, y sdk.Position) int { return strings.Compare(x.Partition, y.Partition) })
	clear(a.pending)
	a.mu.Unlock()
	if len(pos) == 0 || a.src == nil {
		return
	}
	if err := a.src.Ack(context.Background(), pos); err != nil {
		fmt.Fprintf(a.log, "flowctl: committing offsets to the group: %v\n", err)
	}
}

// close acknowledges what is pending and stops.
func (a *acker) close() {
	close(a.stop)
	<-a.done
}
