package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// groupSession is the session timeout of the group tests: short, so that
// members notice rebalances within a heartbeat (a third of it).
const groupSession = "1500ms"

// groupCluster starts a cluster with topic t of 6 partitions whose
// groups take short session timeouts.
func groupCluster(t *testing.T) (*kfake.Cluster, string) {
	t.Helper()
	return cluster(t, kfake.SeedTopics(6, "t"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
}

// allPartitions are the partitions of topic t of groupCluster.
var allPartitions = []string{"t/0", "t/1", "t/2", "t/3", "t/4", "t/5"}

// openCoordinator opens a source with Coordinate for pipeline p, source
// in, reading topic t; the caller closes it.
func openCoordinator(t *testing.T, addr string, fields map[string]any) *Source {
	t.Helper()
	f := map[string]any{"topics": []string{"t"}, "session_timeout": groupSession}
	maps.Copy(f, fields)
	s := &Source{}
	req := sdk.OpenRequest{Config: config(addr, f), Format: "json", Coordinate: true,
		Settings: sdk.Settings{Name: "in", Pipeline: "p", Logger: testLogger{t}}}
	if err := s.Open(t.Context(), req); err != nil {
		_ = s.Close(context.Background())
		t.Fatalf("Open: %v", err)
	}
	return s
}

// happening is what a member's Rebalance loop did: released partitions
// (reported before the call that releases them), got an answer, or
// ended with an error.
type happening struct {
	member   string
	released []string
	answer   *sdk.Assignment
	err      error
}

// harness runs the Rebalance loops of coordinating sources as the host
// does, one goroutine each, and follows who holds which partition from
// what they report, in order, on one channel: a partition is held from
// the answer that assigns it until its holder releases it or is told it
// lost it. Since a member reports a release before it makes it, the
// group handing a partition to another member before its holder
// released it shows as an overlap.
type harness struct {
	t        *testing.T
	ch       chan happening
	members  map[string]*member
	holder   map[string]string          // partition → the member holding it
	owned    map[string]map[string]bool // member → partitions held
	revoking map[string][]string        // member → partitions revoked, not released
	lost     map[string][]string        // member → partitions it was told it lost
	answers  map[string]int             // member → answers received
	overlaps []string                   // "m got p while n held it"
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, ch: make(chan happening, 100), members: map[string]*member{},
		holder: map[string]string{}, owned: map[string]map[string]bool{}, revoking: map[string][]string{},
		lost: map[string][]string{}, answers: map[string]int{}}
}

// member is one coordinating source and its loop.
type member struct {
	s      *Source
	cancel context.CancelFunc
	ended  chan struct{}
	once   sync.Once

	mu   sync.Mutex
	hold chan struct{} // non-nil: revoked partitions are released once it is closed
}

// join starts the loop of a coordinating source; the member stops when
// the test ends.
func (h *harness) join(name string, s *Source) *member {
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{s: s, cancel: cancel, ended: make(chan struct{})}
	h.members[name] = m
	h.owned[name] = map[string]bool{}
	go func() {
		defer close(m.ended)
		var released []string
		for {
			if len(released) > 0 {
				h.ch <- happening{member: name, released: released}
			}
			a, err := s.Rebalance(ctx, released)
			if err != nil {
				h.ch <- happening{member: name, err: err}
				return
			}
			h.ch <- happening{member: name, answer: &a}
			released = nil
			if len(a.Revoked) > 0 && !a.Lost {
				if !m.waitHold(ctx) {
					return
				}
				released = a.Revoked
			}
		}
	}()
	h.t.Cleanup(m.stop)
	return m
}

// holdRevokes makes the member keep the partitions revoked from now on
// until the returned function is called.
func (m *member) holdRevokes() (release func()) {
	ch := make(chan struct{})
	m.mu.Lock()
	m.hold = ch
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		m.hold = nil
		m.mu.Unlock()
		close(ch)
	}
}

// waitHold waits until revoked partitions may be released, and reports
// false if ctx ended first.
func (m *member) waitHold(ctx context.Context) bool {
	m.mu.Lock()
	ch := m.hold
	m.mu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// leave stops a member, which leaves the group, and forgets what it held.
func (h *harness) leave(name string) {
	h.members[name].stop()
	for p, m := range h.holder {
		if m == name {
			delete(h.holder, p)
		}
	}
	clear(h.owned[name])
	h.revoking[name] = nil
}

// stop ends the loop and closes the source, which leaves the group.
func (m *member) stop() {
	m.once.Do(func() {
		m.cancel()
		<-m.ended
		_ = m.s.Close(context.Background())
	})
}

// until takes happenings in until cond holds, failing the test after
// 20s.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	timeout := time.After(20 * time.Second)
	for !cond() {
		select {
		case hp := <-h.ch:
			h.take(hp)
		case <-timeout:
			h.t.Fatalf("waiting for %s: timed out; held: %v", what, h.owned)
		}
	}
}

// take follows one happening.
func (h *harness) take(hp happening) {
	m := hp.member
	switch {
	case hp.err != nil:
		h.t.Logf("%s: Rebalance: %v", m, hp.err)
	case hp.released != nil:
		h.t.Logf("%s: releases %v", m, hp.released)
		for _, p := range hp.released {
			if h.holder[p] == m {
				delete(h.holder, p)
			}
			delete(h.owned[m], p)
		}
		h.revoking[m] = slices.DeleteFunc(h.revoking[m], func(p string) bool { return slices.Contains(hp.released, p) })
	default:
		a := *hp.answer
		h.t.Logf("%s: %+v", m, a)
		h.answers[m]++
		for _, p := range a.Assigned {
			if other, ok := h.holder[p]; ok && other != m {
				h.overlaps = append(h.overlaps, fmt.Sprintf("%s got %s while %s held it", m, p, other))
			}
			h.holder[p] = m
			h.owned[m][p] = true
		}
		if a.Lost {
			h.lost[m] = append(h.lost[m], a.Revoked...)
			for _, p := range a.Revoked {
				if h.holder[p] == m {
					delete(h.holder, p)
				}
				delete(h.owned[m], p)
			}
		} else {
			h.revoking[m] = append(h.revoking[m], a.Revoked...)
		}
	}
}

// balanced reports whether the members named share all the partitions,
// each held by one of them, as evenly as can be, with nothing revoked
// and not yet released.
func (h *harness) balanced(names ...string) func() bool {
	return func() bool {
		var union []string
		for _, name := range names {
			n := len(h.owned[name])
			if n < len(allPartitions)/len(names) || n > (len(allPartitions)+len(names)-1)/len(names) || len(h.revoking[name]) > 0 {
				return false
			}
			union = append(union, slices.Collect(maps.Keys(h.owned[name]))...)
		}
		slices.Sort(union)
		return slices.Equal(union, allPartitions) // sorted, so also disjoint
	}
}

// requestCounter counts the JoinGroup, Heartbeat and Fetch requests a
// cluster gets.
type requestCounter struct {
	mu         sync.Mutex
	joins      int
	heartbeats map[string]int // by member id
	fetches    int
}

// countRequests installs the counter's control functions, which watch
// and let the cluster handle every request.
func countRequests(c *kfake.Cluster) *requestCounter {
	rc := &requestCounter{heartbeats: map[string]int{}}
	c.ControlKey(kmsg.JoinGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		rc.mu.Lock()
		rc.joins++
		rc.mu.Unlock()
		return nil, nil, false
	})
	c.ControlKey(kmsg.Heartbeat.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		rc.mu.Lock()
		rc.heartbeats[req.(*kmsg.HeartbeatRequest).MemberID]++
		rc.mu.Unlock()
		return nil, nil, false
	})
	c.ControlKey(kmsg.Fetch.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		rc.mu.Lock()
		rc.fetches++
		rc.mu.Unlock()
		return nil, nil, false
	})
	return rc
}

func (rc *requestCounter) counts(member string) (joins, heartbeats int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.joins, rc.heartbeats[member]
}

// memberID returns the member id of a coordinating source.
func memberID(s *Source) string {
	id, _ := s.grp.cl.GroupMetadata()
	return id
}

// TestGroupShare runs coordinating sources of one pipeline as three
// processes would: two share the 6 partitions; when a third joins, the
// partitions that move to it are held back until their holders release
// them (the group sees no rejoin, and the broker assigns them to no one,
// over several heartbeats of the newcomer), while the holders' Acks
// still commit; when one leaves, the other two take its partitions. No
// partition is ever assigned to a member while another holds it, and
// the members fetch nothing.
func TestGroupShare(t *testing.T) {
	t.Parallel()
	c, addr := groupCluster(t)
	rc := countRequests(c)
	adm := kadm.NewClient(client(t, addr))
	h := newHarness(t)
	a := h.join("a", openCoordinator(t, addr, nil))
	h.until("a to hold every partition", h.balanced("a"))
	b := h.join("b", openCoordinator(t, addr, nil))
	h.until("a and b to share the partitions", h.balanced("a", "b"))

	releaseA, releaseB := a.holdRevokes(), b.holdRevokes()
	cm := h.join("c", openCoordinator(t, addr, nil))
	h.until("a and b to have partitions revoked, and c its first assignment", func() bool {
		return len(h.revoking["a"]) > 0 && len(h.revoking["b"]) > 0 && h.answers["c"] > 0
	})
	revoked := slices.Concat(h.revoking["a"], h.revoking["b"])
	slices.Sort(revoked)
	joins, beats := rc.counts(memberID(cm.s))
	// While a and b hold their revoked partitions, the group waits: c
	// heartbeats, nobody rejoins, the broker assigns them to no one.
	waitFor(t, "three more heartbeats of c", func() bool { _, n := rc.counts(memberID(cm.s)); return n >= beats+3 })
	if j, _ := rc.counts(memberID(cm.s)); j != joins {
		t.Errorf("%d JoinGroup requests while a and b held revoked partitions, want none", j-joins)
	}
	described, err := adm.DescribeGroups(t.Context(), "flowctl.p.in")
	if err != nil {
		t.Fatal(err)
	}
	g := described["flowctl.p.in"]
	assigned := g.AssignedPartitions()
	for _, p := range revoked {
		tp, _ := parsePartition(p)
		if _, ok := assigned[tp.topic][tp.p]; ok {
			t.Errorf("the broker assigned %s, revoked and not released, to a member", p)
		}
	}
	if g.State != "Stable" || len(g.Members) != 3 {
		t.Errorf("group state %s with %d members, want Stable with 3", g.State, len(g.Members))
	}
	if len(h.owned["c"]) > 0 {
		t.Errorf("c holds %v before a and b released %v", h.owned["c"], revoked)
	}

	// Ack commits, as the member, the partitions a holds, revoked ones
	// included, and not another's, while the rebalance waits.
	var positions []sdk.Position
	for i, p := range allPartitions {
		positions = append(positions, sdk.Position{Partition: p, Offset: int64(10 + i)})
	}
	start := time.Now()
	if err := a.s.Ack(t.Context(), positions); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Ack during a rebalance took %v", d)
	}
	want := map[string]int64{}
	for p := range h.owned["a"] {
		n, _ := parsePartition(p)
		want[p] = int64(10 + n.p)
	}
	if diff := cmp.Diff(want, committed(t, adm, "flowctl.p.in")); diff != "" {
		t.Errorf("offsets committed by a (-want +got):\n%s", diff)
	}

	releaseA()
	releaseB()
	h.until("a, b and c to share the partitions", h.balanced("a", "b", "c"))
	if got := slices.Sorted(maps.Keys(h.owned["c"])); !slices.Equal(got, revoked) {
		t.Errorf("c got %v, want what a and b released, %v", got, revoked)
	}

	h.leave("c")
	h.until("a and b to share c's partitions", h.balanced("a", "b"))
	if len(h.overlaps) > 0 {
		t.Errorf("partitions assigned while another member held them: %v", h.overlaps)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.fetches > 0 {
		t.Errorf("the group members sent %d Fetch requests, want none: they read nothing", rc.fetches)
	}
}

// TestGroupLost freezes a member's heartbeats: when its session times
// out, the other member is given its partitions; when it comes back, it
// is told it lost them (Lost, nothing to release), and the group shares
// them again.
func TestGroupLost(t *testing.T) {
	t.Parallel()
	c, addr := groupCluster(t)
	h := newHarness(t)
	a := h.join("a", openCoordinator(t, addr, nil))
	h.until("a to hold every partition", h.balanced("a"))
	h.join("b", openCoordinator(t, addr, nil))
	h.until("a and b to share the partitions", h.balanced("a", "b"))
	held := slices.Sorted(maps.Keys(h.owned["a"]))

	frozen, unfreeze := memberID(a.s), make(chan struct{})
	c.ControlKey(kmsg.Heartbeat.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if req.(*kmsg.HeartbeatRequest).MemberID == frozen {
			c.SleepControl(func() { <-unfreeze })
		}
		return nil, nil, false
	})
	h.until("b to get a's partitions", func() bool { return len(h.owned["b"]) == len(allPartitions) })
	close(unfreeze)
	h.until("a to be told it lost them", func() bool { return len(h.lost["a"]) > 0 })
	if got := slices.Sorted(slices.Values(h.lost["a"])); !slices.Equal(got, held) {
		t.Errorf("a lost %v, want what it held, %v", got, held)
	}
	for _, o := range h.overlaps {
		if !strings.HasPrefix(o, "b got ") || !strings.HasSuffix(o, " while a held it") {
			t.Errorf("unexpected overlap: %s", o)
		}
	}
	h.overlaps = nil
	h.until("a and b to share the partitions again", h.balanced("a", "b"))
	if len(h.overlaps) > 0 {
		t.Errorf("partitions assigned while another member held them: %v", h.overlaps)
	}
}

// committed returns the offsets committed to a group, by partition.
func committed(t *testing.T, adm *kadm.Client, group string) map[string]int64 {
	t.Helper()
	resp, err := adm.FetchOffsets(t.Context(), group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[string]int64{}
	}
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	got := map[string]int64{}
	resp.Each(func(o kadm.OffsetResponse) { got[partitionName(o.Topic, o.Partition)] = o.At })
	return got
}

// waitFor polls cond every 10ms until it holds, failing the test after
// 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGroupErrors checks what a coordinating source refuses: Read, a
// session timeout the brokers do not allow (Rebalance fails naming
// session_timeout), Partitions with Coordinate, and no group name; and
// that Rebalance needs Coordinate. The group is named after the pipeline
// and source by default.
func TestGroupErrors(t *testing.T) {
	t.Parallel()
	_, strict := cluster(t, kfake.SeedTopics(1, "t")) // group.min.session.timeout.ms 6s
	s := openCoordinator(t, strict, map[string]any{"session_timeout": "1s"})
	defer s.Close(context.Background())
	if _, err := s.Read(t.Context()); err == nil || err.Error() !=
		"the source was opened to coordinate consumer group flowctl.p.in, and reads nothing: the instances opened with Partitions read" {
		t.Errorf("Read = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := s.Rebalance(ctx, nil)
	if want := "consumer group flowctl.p.in: INVALID_SESSION_TIMEOUT: "; err == nil || !strings.HasPrefix(err.Error(), want) ||
		!strings.Contains(err.Error(), "session_timeout 1s is outside what the brokers allow") {
		t.Errorf("Rebalance with a session timeout below the brokers' minimum = %v", err)
	}

	tests := []struct {
		name string
		req  sdk.OpenRequest
		want string
	}{
		{"partitions", sdk.OpenRequest{Coordinate: true, Partitions: []string{"t/0"}, Settings: sdk.Settings{Pipeline: "p", Name: "in"}},
			"open: Coordinate and Partitions exclude each other: the coordinating instance reads nothing"},
		{"no pipeline", sdk.OpenRequest{Coordinate: true},
			"group: the host gave no pipeline name to derive the consumer group from; set group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Source{}
			tt.req.Config = config(strict, map[string]any{"topics": []string{"t"}})
			err := s.Open(t.Context(), tt.req)
			_ = s.Close(context.Background())
			if err == nil || err.Error() != tt.want {
				t.Errorf("Open = %v, want %s", err, tt.want)
			}
		})
	}
	plain := open(t, config(strict, map[string]any{"topics": []string{"t"}, "bounded": true}))
	if _, err := plain.Rebalance(t.Context(), nil); err == nil || err.Error() != "rebalance: the source was not opened with Coordinate" {
		t.Errorf("Rebalance without Coordinate = %v", err)
	}
}

// TestGroupName joins the group set in the config, or else
// flowctl.PIPELINE.SOURCE.
func TestGroupName(t *testing.T) {
	t.Parallel()
	_, addr := groupCluster(t)
	adm := kadm.NewClient(client(t, addr))
	for _, fields := range []map[string]any{nil, {"group": "mine"}} {
		s := openCoordinator(t, addr, fields)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		_, err := s.Rebalance(ctx, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
	}
	listed, err := adm.ListGroups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"flowctl.p.in", "mine"}, listed.Groups()); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

// TestReadPartitions opens reading instances with Partitions: each reads
// those partitions only, from its resume position, and Ack commits
// nothing to the group; a partition that is not one of the source's
// fails Open, naming it.
func TestReadPartitions(t *testing.T) {
	t.Parallel()
	_, addr := cluster(t, kfake.SeedTopics(3, "t", "other"))
	var recs []*kgo.Record
	for i := range 9 {
		recs = append(recs, &kgo.Record{Topic: "t", Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	produce(t, addr, recs...)
	tests := []struct {
		name       string
		fields     map[string]any
		partitions []string
		resume     []sdk.Position
		want       []string // payloads
		err        string   // Open's error
	}{
		{"one", nil, []string{"t/1"}, nil, []string{`{"n":1}`, `{"n":4}`, `{"n":7}`}, ""},
		{"resumed", nil, []string{"t/2"}, []sdk.Position{{Partition: "t/2", Offset: 2}}, []string{`{"n":8}`}, ""},
		{"two", nil, []string{"t/0", "t/2"}, []sdk.Position{{Partition: "t/0", Offset: 1}},
			[]string{`{"n":2}`, `{"n":3}`, `{"n":5}`, `{"n":6}`, `{"n":8}`}, ""},
		{"regex", map[string]any{"topic_regex": "^t$"}, []string{"t/1"}, []sdk.Position{{Partition: "t/1", Offset: 3}}, nil, ""},
		{"none", nil, []string{}, nil, nil, ""},
		{"missing partition", nil, []string{"t/0", "t/3"}, nil, nil, `partition "t/3" does not exist: topic "t" has 3 partitions`},
		{"other topic", nil, []string{"other/0"}, nil, nil, `partition "other/0": topic "other" is not one the source reads`},
		{"not a partition", nil, []string{"t"}, nil, nil, `partition "t" is not a kafka partition (topic/N)`},
		{"regex mismatch", map[string]any{"topic_regex": "^o"}, []string{"t/0"}, nil, nil, `partition "t/0": topic "t" is not one the source reads`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			group := "g-" + strings.ReplaceAll(tt.name, " ", "-")
			fields := map[string]any{"topics": []string{"t"}, "bounded": true, "group": group}
			if tt.fields != nil {
				fields = map[string]any{"bounded": true, "group": group}
				maps.Copy(fields, tt.fields)
			}
			s := &Source{}
			req := openRequest(config(addr, fields), tt.resume...)
			req.Partitions = tt.partitions
			err := s.Open(t.Context(), req)
			defer s.Close(context.Background())
			if tt.err != "" || err != nil {
				if err == nil || err.Error() != tt.err {
					t.Errorf("Open = %v, want %s", err, tt.err)
				}
				return
			}
			msgs := readToEnd(t, s)
			got := payloads(msgs)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("read %v, want %v", got, tt.want)
			}
			var last []sdk.Position
			for _, m := range msgs {
				last = append(last, m.Position)
			}
			if err := s.Ack(t.Context(), last); err != nil {
				t.Fatal(err)
			}
			if got := committed(t, kadm.NewClient(client(t, addr)), group); len(got) > 0 {
				t.Errorf("Ack of a reading instance committed %v, want nothing", got)
			}
		})
	}
}

// TestGroupEvents drives a group's callbacks as franz-go calls them and
// checks what Rebalance answers: a release counts only for a revoke the
// host was told about (here, a partition lost, assigned again and
// revoked again before the host heard of it); a revoke waits for its
// release; an empty revoke says nothing; Close wakes a waiting revoke.
func TestGroupEvents(t *testing.T) {
	t.Parallel()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1")) // never connects: nothing is consumed
	if err != nil {
		t.Fatal(err)
	}
	g := newGroup("g", "1s", t.Logf)
	g.cl = cl
	ctx := t.Context()
	next := func(released ...string) sdk.Assignment {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		a, err := g.rebalance(ctx, released)
		if err != nil {
			t.Fatalf("Rebalance(%v): %v", released, err)
		}
		return a
	}
	revoke := func(p int32) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			g.revoked(ctx, cl, map[string][]int32{"t": {p}})
		}()
		return done
	}
	waitQueued := func(n int) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d queued answers", n), func() bool {
			g.mu.Lock()
			defer g.mu.Unlock()
			return len(g.events) == n
		})
	}
	isRevoking := func(name string) bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		_, ok := g.revoking[name]
		return ok
	}

	g.assigned(ctx, cl, map[string][]int32{"t": {1, 0}})
	if diff := cmp.Diff(sdk.Assignment{Assigned: []string{"t/0", "t/1"}}, next()); diff != "" {
		t.Errorf("first answer (-want +got):\n%s", diff)
	}
	g.lost(ctx, cl, map[string][]int32{"t": {0, 1}})
	g.assigned(ctx, cl, map[string][]int32{"t": {0}})
	g.revoked(ctx, cl, map[string][]int32{}) // the end of a session
	done := revoke(0)
	waitQueued(3)
	if diff := cmp.Diff(sdk.Assignment{Revoked: []string{"t/0", "t/1"}, Lost: true}, next()); diff != "" {
		t.Errorf("loss (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sdk.Assignment{Assigned: []string{"t/0"}}, next("t/0", "t/1")); diff != "" {
		t.Errorf("assignment after the loss (-want +got):\n%s", diff)
	}
	if !isRevoking("t/0") {
		t.Fatal("releasing what was lost released t/0, revoked since, before the host was told")
	}
	if diff := cmp.Diff(sdk.Assignment{Revoked: []string{"t/0"}}, next()); diff != "" {
		t.Errorf("revoke (-want +got):\n%s", diff)
	}
	if !isRevoking("t/0") {
		t.Fatal("t/0 released before the host released it")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := g.rebalance(short, []string{"t/0"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Rebalance with nothing to answer = %v, want the deadline", err)
	}
	<-done // released

	g.assigned(ctx, cl, map[string][]int32{"t": {2}})
	done = revoke(2)
	waitQueued(2)
	g.close()
	<-done // woken by Close
	if diff := cmp.Diff(sdk.Assignment{Assigned: []string{"t/2"}}, next()); diff != "" {
		t.Errorf("assignment (-want +got):\n%s", diff)
	}
	next() // the revoke, queued before Close
	if _, err := g.rebalance(ctx, nil); !errors.Is(err, errClosed) {
		t.Errorf("Rebalance after Close = %v, want %v", err, errClosed)
	}
}
