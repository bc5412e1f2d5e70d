package scaleout_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/checkpoint"
)

// The plugins here stand in for a Kafka topic, its consumer group and an
// exactly-once sink, in process. A group holds everything they share: the
// data of each partition and how much of it is published, the members
// (one per process) and the assignments the test scripts for them, and
// the table the sink writes, which survives the processes.

// sourceName is the shared source's name in the pipelines here; each
// partition's checkpoints are in checkpoints.Sub(sourceName).Sub(p).
const sourceName = "events"

// eofKey is the key of each partition's last event, far in the future:
// it closes every window of the partition, and the pipeline filters it
// out.
const eofKey = "eof"

// base is the event time of the first events.
var base = time.Date(2026, 3, 17, 10, 0, 0, 0, time.UTC)

// lateness is the pipeline's watermark lateness: the data's disorder
// stays below it, so no event is late.
const lateness = 20 * time.Second

// event is one message of a partition; its offset is its index + 1.
type event struct {
	key string
	v   int64
	t   time.Time
}

// group is a topic with partitions, the consumer group of the processes
// that read it and the table they write.
type group struct {
	t     *testing.T
	parts []string
	data  map[string][]event
	store *checkpoint.Store // the pipeline's shared checkpoint storage

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every change
	published map[string]int64
	delivered map[string]int64 // the highest offset a reader returned
	acked     map[string]int64 // the highest offset the group was acknowledged, by the partition's owner
	failRead  map[string]int64 // a reader of the partition fails on reaching this offset
	failOpen  map[string]bool  // a reader of the partition fails to open
	readers   map[*partsSource]bool
	opens     []opening
	members   map[string]*member
	instances map[string]*instance
}

// opening is the opening of a partition's reader.
type opening struct {
	member, part string
	resume       int64 // the offset the reader resumes after; 0 for none
}

// newGroup makes n partitions p0, p1, … of events events each, and the
// eof event. Each partition has keys of its own: p0-a, p0-b.
func newGroup(t *testing.T, rng *rand.Rand, n, events int) *group {
	g := &group{
		t: t, data: map[string][]event{}, store: checkpoint.NewDir(t.TempDir()),
		changed: make(chan struct{}), published: map[string]int64{}, delivered: map[string]int64{}, acked: map[string]int64{},
		failRead: map[string]int64{}, failOpen: map[string]bool{}, readers: map[*partsSource]bool{},
		members: map[string]*member{}, instances: map[string]*instance{},
	}
	for i := range n {
		p := fmt.Sprintf("p%d", i)
		g.parts = append(g.parts, p)
		maxT := base
		for range events {
			at := maxT.Add(time.Duration(rng.IntN(16)) * time.Second)
			if rng.IntN(4) == 0 { // out of order, by less than the lateness
				at = maxT.Add(-time.Duration(rng.Int64N(int64(lateness-time.Second)/int64(time.Second))) * time.Second)
			}
			if at.After(maxT) {
				maxT = at
			}
			key := fmt.Sprintf("%s-%c", p, 'a'+rng.IntN(2))
			g.data[p] = append(g.data[p], event{key: key, v: rng.Int64N(100), t: at})
		}
		g.data[p] = append(g.data[p], event{key: eofKey, t: base.Add(24 * time.Hour)})
	}
	return g
}

// notify wakes whoever waits for a change; g.mu is held.
func (g *group) notify() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// publish makes n more events of a partition readable, the eof event
// excepted.
func (g *group) publish(p string, n int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.published[p] = min(g.published[p]+n, int64(len(g.data[p])-1))
	g.notify()
}

// publishAll makes every event readable.
func (g *group) publishAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for p, evs := range g.data {
		g.published[p] = int64(len(evs))
	}
	g.notify()
}

// waitLimit bounds every wait: far more than anything here takes.
const waitLimit = 20 * time.Second

// waitFor waits until cond, called with g.mu held, holds.
func (g *group) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		g.mu.Lock()
		ok, ch := cond(), g.changed
		g.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkpointUntil moves the clock on by the pipelines' checkpoint
// interval, again and again, so that every partition run checkpoints,
// until cond, called with g.mu held, holds.
func (g *group) checkpointUntil(t *testing.T, clk *clock, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	poke := time.NewTicker(20 * time.Millisecond)
	defer poke.Stop()
	for {
		g.mu.Lock()
		ok, ch := cond(), g.changed
		g.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-poke.C:
			clk.Add(commitEvery)
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// allAcked says the group was acknowledged every partition to its end;
// g.mu is held.
func (g *group) allAcked() bool {
	for p, evs := range g.data {
		if g.acked[p] < int64(len(evs)) {
			return false
		}
	}
	return true
}

// latest is the id of the newest checkpoint of a partition, 0 if none.
func (g *group) latest(p string) uint64 {
	ids, err := g.partStore(p).IDs(context.Background())
	if err != nil {
		g.t.Errorf("checkpoints of %s: %v", p, err)
		return 0
	}
	if len(ids) == 0 {
		return 0
	}
	return ids[len(ids)-1]
}

// checkpointed is the offset the newest checkpoint of a partition
// resumes after, 0 if none.
func (g *group) checkpointed(t *testing.T, p string) int64 {
	t.Helper()
	ck, err := g.partStore(p).LatestAtMost(context.Background(), ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	if ck == nil {
		return 0
	}
	for _, src := range ck.Meta.Sources {
		for _, part := range src.Partitions {
			if src.Name == sourceName && part.Name == p {
				return part.Offset
			}
			t.Errorf("checkpoint %d of partition %s holds the position of %s %s", ck.Meta.ID, p, src.Name, part.Name)
		}
	}
	return 0
}

func (g *group) partStore(p string) *checkpoint.Store { return g.store.Sub(sourceName).Sub(p) }

// lastOpening is the latest opening of a partition's reader.
func (g *group) lastOpening(t *testing.T, p string) opening {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, o := range slices.Backward(g.opens) {
		if o.part == p {
			return o
		}
	}
	t.Fatalf("partition %s was never opened", p)
	return opening{}
}

// openings counts the openings of readers so far.
func (g *group) openings() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.opens)
}

// member is a process's member of the group: what the test assigns to it,
// and what it owns.
type member struct {
	g        *group
	name     string
	changes  chan change
	failJoin error

	// Under g.mu:
	owned    map[string]bool
	revoking map[string]revocation // revoked, not yet released
	joined   int                   // coordinators opened
	left     int                   // coordinators closed
	releases int                   // revoked partitions released and checked
}

// change is a change of a member's assignment, or, with err, a failure
// of the group, scripted by the test; taken is closed once Rebalance has
// taken it.
type change struct {
	a     sdk.Assignment
	err   error
	taken chan struct{}
}

// revocation is what a partition's storage held when it was revoked.
type revocation struct {
	lost    bool
	ckpt    uint64 // the newest checkpoint
	commits int    // commits of its sink instance
}

// member returns the member of that name, making it the first time.
func (g *group) member(name string) *member {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.members[name]
	if m == nil {
		m = &member{g: g, name: name, changes: make(chan change), owned: map[string]bool{}, revoking: map[string]revocation{}}
		g.members[name] = m
	}
	return m
}

// send hands a change to the member's next Rebalance call.
func (m *member) send(t *testing.T, c change) {
	t.Helper()
	c.taken = make(chan struct{})
	select {
	case m.changes <- c:
	case <-time.After(waitLimit):
		t.Fatalf("member %s did not ask for a change", m.name)
	}
	<-c.taken
}

// change changes the member's assignment and, if it revokes partitions,
// waits until the member has released them.
func (m *member) change(t *testing.T, a sdk.Assignment) {
	t.Helper()
	m.send(t, change{a: a})
	m.g.waitFor(t, fmt.Sprintf("member %s to release %v", m.name, a.Revoked), func() bool {
		for _, p := range a.Revoked {
			if _, ok := m.revoking[p]; ok {
				return false
			}
		}
		return true
	})
}

// revoke takes partitions from the member, or tells it they are lost,
// and waits until it has released them.
func (m *member) revoke(t *testing.T, lost bool, parts ...string) {
	t.Helper()
	m.change(t, sdk.Assignment{Revoked: parts, Lost: lost})
}

// ownedParts lists the partitions the member owns.
func (m *member) ownedParts() []string {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	return slices.Sorted(maps.Keys(m.owned))
}

// sourcePlugin is the shared source as the process of member m sees it.
func (g *group) sourcePlugin(m *member) sdk.Plugin {
	return sdk.Plugin{
		Spec:      sdk.Spec{Name: "parts", Kind: sdk.KindSource, Version: "0.1.0", ScaleOut: true},
		NewSource: func() sdk.Source { return &partsSource{g: g, m: m} },
	}
}

// partsSource is an instance of the shared source: the coordinator of a
// process, or the reader of one partition.
type partsSource struct {
	g *group
	m *member

	coord  bool
	part   string
	next   int64 // the offset of the next event
	closed bool
	acking atomic.Int32
}

func (s *partsSource) Open(_ context.Context, req sdk.OpenRequest) error {
	g, m := s.g, s.m
	g.mu.Lock()
	defer g.mu.Unlock()
	if req.Coordinate {
		if len(req.Partitions) > 0 || len(req.Resume) > 0 {
			g.t.Errorf("coordinator of %s opened with partitions %v, resume %v", m.name, req.Partitions, req.Resume)
		}
		if m.failJoin != nil {
			return m.failJoin
		}
		s.coord = true
		m.joined++
		clear(m.owned) // a fresh member of the group
		g.notify()
		return nil
	}
	if len(req.Partitions) != 1 {
		g.t.Errorf("member %s opened a reader of partitions %v, want one", m.name, req.Partitions)
		return errors.New("one partition per reader")
	}
	p := req.Partitions[0]
	if req.Settings.Instance != p {
		g.t.Errorf("reader of %s opened as instance %q", p, req.Settings.Instance)
	}
	if _, revoked := m.revoking[p]; !m.owned[p] && !revoked {
		// A run revoked as it starts opens its reader still, but
		// before it is released.
		g.t.Errorf("member %s opened partition %s, which it does not own", m.name, p)
	}
	if g.failOpen[p] {
		return fmt.Errorf("boom: partition %s is offline", p)
	}
	s.part, s.next = p, 1
	o := opening{member: m.name, part: p}
	for _, pos := range req.Resume {
		if pos.Partition != p {
			g.t.Errorf("reader of %s resumes partition %s", p, pos.Partition)
			continue
		}
		o.resume, s.next = pos.Offset, pos.Offset+1
	}
	g.opens = append(g.opens, o)
	g.readers[s] = true
	g.notify()
	return nil
}

func (s *partsSource) Read(ctx context.Context) (sdk.Batch, error) {
	g := s.g
	if s.coord {
		g.t.Errorf("Read on the coordinator of %s", s.m.name)
		return sdk.Batch{}, errors.New("the coordinator does not read")
	}
	for {
		g.mu.Lock()
		if at, ok := g.failRead[s.part]; ok && s.next >= at {
			g.mu.Unlock()
			return sdk.Batch{}, fmt.Errorf("boom at %s@%d", s.part, s.next)
		}
		if pub := g.published[s.part]; s.next <= pub {
			n := min(pub-s.next+1, 1+s.next%3)
			b := sdk.Batch{Messages: make([]sdk.Message, 0, n)}
			for off := s.next; off < s.next+n; off++ {
				e := g.data[s.part][off-1]
				b.Messages = append(b.Messages, sdk.Message{
					Fields:   []sdk.Field{{Name: "k", Value: e.key}, {Name: "v", Value: e.v}, {Name: "ts", Value: e.t}},
					Position: sdk.Position{Partition: s.part, Offset: off},
				})
			}
			s.next += n
			g.delivered[s.part] = max(g.delivered[s.part], s.next-1)
			g.notify()
			g.mu.Unlock()
			return b, nil
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return sdk.Batch{}, ctx.Err()
		}
	}
}

func (s *partsSource) Close(context.Context) error {
	g, m := s.g, s.m
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.closed {
		g.t.Errorf("source of %s closed twice", m.name)
	}
	s.closed = true
	defer g.notify()
	if !s.coord {
		delete(g.readers, s)
		return nil
	}
	for r := range g.readers {
		if r.m == m {
			g.t.Errorf("member %s left the group while it still read partition %s", m.name, r.part)
		}
	}
	if len(m.revoking) > 0 {
		g.t.Errorf("member %s left the group without releasing %v", m.name, slices.Sorted(maps.Keys(m.revoking)))
	}
	m.left++
	clear(m.owned)
	return nil
}

// Rebalance checks the partitions released, then hands out the next
// change the test scripted.
func (s *partsSource) Rebalance(ctx context.Context, released []string) (sdk.Assignment, error) {
	g, m := s.g, s.m
	if !s.coord {
		g.t.Errorf("Rebalance on the reader of %s", s.part)
		return sdk.Assignment{}, errors.New("a reader does not rebalance")
	}
	g.mu.Lock()
	for _, p := range released {
		rv, ok := m.revoking[p]
		if !ok {
			g.t.Errorf("member %s released %s, which was not revoked", m.name, p)
			continue
		}
		g.checkReleased(m, p, rv)
		delete(m.revoking, p)
		m.releases++
	}
	if len(m.revoking) > 0 {
		g.t.Errorf("member %s released %v, not %v: a revoked partition must be released in the next call", m.name, released, slices.Sorted(maps.Keys(m.revoking)))
		clear(m.revoking)
	}
	g.notify()
	g.mu.Unlock()
	select {
	case c := <-m.changes:
		defer close(c.taken)
		if c.err != nil {
			return sdk.Assignment{}, c.err
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, p := range c.a.Revoked {
			m.revoking[p] = revocation{lost: c.a.Lost, ckpt: g.latest(p), commits: g.instance(p).commits}
			delete(m.owned, p)
		}
		for _, p := range c.a.Assigned {
			m.owned[p] = true
		}
		return c.a, nil
	case <-ctx.Done():
		return sdk.Assignment{}, ctx.Err()
	}
}

// checkReleased checks what a partition left behind when its member
// released it: its reader and sink closed and, if it was revoked, a
// checkpoint taken since, which its sink committed; if it was lost,
// nothing written since. g.mu is held.
func (g *group) checkReleased(m *member, p string, rv revocation) {
	for r := range g.readers {
		if r.part == p {
			g.t.Errorf("partition %s released by %s while a reader of %s still reads it", p, m.name, r.m.name)
		}
	}
	in := g.instance(p)
	if in.open > 0 {
		g.t.Errorf("partition %s released by %s while its sink is open", p, m.name)
	}
	latest := g.latest(p)
	switch {
	case rv.lost && (latest != rv.ckpt || in.commits != rv.commits):
		g.t.Errorf("lost partition %s was checkpointed before its release: checkpoint %d, then %d; sink commits %d, then %d", p, rv.ckpt, latest, rv.commits, in.commits)
	case !rv.lost && latest <= rv.ckpt:
		g.t.Errorf("partition %s released by %s without a checkpoint since its revocation (newest %d)", p, m.name, latest)
	case !rv.lost && latest != in.committed:
		g.t.Errorf("partition %s released by %s with checkpoint %d saved and %d committed by its sink", p, m.name, latest, in.committed)
	}
}

// Ack records the offsets the coordinator is acknowledged, for the
// partitions its member owns (Kafka refuses the others' commits).
func (s *partsSource) Ack(_ context.Context, positions []sdk.Position) error {
	g, m := s.g, s.m
	if s.acking.Add(1) > 1 {
		g.t.Errorf("concurrent Ack calls on a source of %s", m.name)
	}
	defer s.acking.Add(-1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.closed {
		g.t.Errorf("Ack on a closed source of %s", m.name)
	}
	for _, pos := range positions {
		switch {
		case !s.coord && pos.Partition != s.part:
			g.t.Errorf("the reader of %s was acknowledged %v", s.part, pos)
		case s.coord && m.owned[pos.Partition]:
			g.acked[pos.Partition] = max(g.acked[pos.Partition], pos.Offset)
		}
	}
	g.notify()
	return nil
}

// instance is what the table holds for one sink instance (a partition).
type instance struct {
	visible     []string
	staged      map[uint64][]string
	committed   uint64
	commits     int
	open        int  // sinks of the instance open
	unprepared  int  // rows written by the open sink, not yet prepared
	failPrepare bool // Prepare fails
}

// instance returns the table's instance of that name; g.mu is held.
func (g *group) instance(name string) *instance {
	in := g.instances[name]
	if in == nil {
		in = &instance{staged: map[uint64][]string{}}
		g.instances[name] = in
	}
	return in
}

// sinkPlugin is an exactly-once sink into the group's table: each
// instance stages its rows under checkpoint ids, and they show once
// committed.
func (g *group) sinkPlugin() sdk.Plugin {
	return sdk.Plugin{
		Spec:    sdk.Spec{Name: "table", Kind: sdk.KindSink, Version: "0.1.0", Instances: true},
		NewSink: func() sdk.Sink { return &tableSink{g: g} },
	}
}

// tableSink is one sink instance of the table.
type tableSink struct {
	g       *group
	name    string
	cols    []string
	pending []string
	closed  bool
}

// rowColumns are the pipeline's output columns, in the order rows are
// rendered.
var rowColumns = []string{"window_start", "window_end", "k", "n", "total"}

func (k *tableSink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if req.Settings.Instance == "" {
		g.t.Errorf("sink %s opened without an instance", req.Settings.Name)
	}
	for _, c := range rowColumns {
		if !slices.Contains(req.Columns, c) {
			g.t.Errorf("sink columns %v lack %s", req.Columns, c)
		}
	}
	k.name, k.cols = req.Settings.Instance, req.Columns
	in := g.instance(k.name)
	if in.open++; in.open > 1 {
		g.t.Errorf("two sinks of instance %s open at once", k.name)
	}
	g.notify()
	return nil
}

func (k *tableSink) Write(_ context.Context, rows sdk.Rows) error {
	for _, r := range rows.Rows {
		k.pending = append(k.pending, render(rows.Columns, r))
	}
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.instance(k.name).unprepared = len(k.pending)
	g.notify()
	return nil
}

// render renders a row as window_start|window_end|k|n|total.
func render(cols []string, row []any) string {
	out := make([]string, len(rowColumns))
	for i, c := range rowColumns {
		j := slices.Index(cols, c)
		if j < 0 {
			continue
		}
		if t, ok := row[j].(time.Time); ok {
			out[i] = t.UTC().Format(time.RFC3339)
		} else {
			out[i] = fmt.Sprint(row[j])
		}
	}
	return strings.Join(out, "|")
}

func (k *tableSink) Committed(context.Context) (uint64, error) {
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	in := g.instance(k.name)
	c := in.committed
	for id := range in.staged {
		c = max(c, id)
	}
	return c, nil
}

func (k *tableSink) Recover(_ context.Context, id uint64) error {
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	in := g.instance(k.name)
	if id == 0 {
		in.visible, in.committed = nil, 0
	}
	for sid := range in.staged {
		if sid > id {
			delete(in.staged, sid)
		}
	}
	in.commit(id)
	return nil
}

func (k *tableSink) Prepare(_ context.Context, id uint64) error {
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	in := g.instance(k.name)
	if in.failPrepare {
		return fmt.Errorf("boom: instance %s cannot stage", k.name)
	}
	in.staged[id] = append(in.staged[id], k.pending...)
	k.pending, in.unprepared = nil, 0
	return nil
}

func (k *tableSink) Commit(_ context.Context, id uint64) error {
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	in := g.instance(k.name)
	in.commit(id)
	in.commits++
	g.notify()
	return nil
}

// commit makes the rows staged under id and before visible.
func (in *instance) commit(id uint64) {
	for _, sid := range slices.Sorted(maps.Keys(in.staged)) {
		if sid <= id {
			in.visible = append(in.visible, in.staged[sid]...)
			delete(in.staged, sid)
		}
	}
	in.committed = max(in.committed, id)
}

func (k *tableSink) Close(context.Context) error {
	g := k.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if k.closed {
		g.t.Errorf("sink of instance %s closed twice", k.name)
	}
	k.closed = true
	in := g.instance(k.name)
	in.open--
	in.unprepared = 0 // what was not prepared is gone
	g.notify()
	return nil
}

// plainPlugin is a source that claims to share its partitions but does
// not implement sdk.Rebalancer.
func plainPlugin() sdk.Plugin {
	return sdk.Plugin{
		Spec:      sdk.Spec{Name: "plain", Kind: sdk.KindSource, Version: "0.1.0", ScaleOut: true},
		NewSource: func() sdk.Source { return plainSource{} },
	}
}

type plainSource struct{}

func (plainSource) Open(context.Context, sdk.OpenRequest) error { return nil }
func (plainSource) Close(context.Context) error                 { return nil }
func (plainSource) Read(ctx context.Context) (sdk.Batch, error) {
	<-ctx.Done()
	return sdk.Batch{}, ctx.Err()
}
