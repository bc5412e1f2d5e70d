package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// errClosed is what Rebalance returns once the source is closing.
var errClosed = errors.New("the source is closing")

// join opens the source as its process's member of the consumer group:
// it checks that the topics exist and starts the client, which joins the
// group in the background.
func (s *Source) join(ctx context.Context, base []kgo.Opt, req sdk.OpenRequest) error {
	if req.Partitions != nil {
		return errors.New("open: Coordinate and Partitions exclude each other: the coordinating instance reads nothing")
	}
	name, err := groupName(&s.cfg, req.Settings)
	if err != nil {
		return err
	}
	details, err := s.topics(ctx)
	if err != nil {
		return err
	}
	g := newGroup(name, s.cfg.SessionTimeout, s.logf)
	g.adm = s.admin
	topics := make([]string, len(details))
	for i, td := range details {
		topics[i] = td.Topic
		g.ids[td.Topic] = td.ID
	}
	if g.cl, err = kgo.NewClient(append(slices.Clip(base), g.opts(&s.cfg, topics)...)...); err != nil {
		return fmt.Errorf("kafka group member: %w", err)
	}
	s.grp = g
	return nil
}

// groupName returns the consumer group of a scaled-out source: group, or
// flowctl.PIPELINE.SOURCE.
func groupName(cfg *Config, set sdk.Settings) (string, error) {
	if cfg.Group != "" {
		return cfg.Group, nil
	}
	if set.Pipeline == "" {
		return "", &sdk.ConfigError{Path: "group",
			Msg: "the host gave no pipeline name to derive the consumer group from; set group"}
	}
	parts := []string{"flowctl", set.Pipeline}
	if set.Name != "" {
		parts = append(parts, set.Name)
	}
	return strings.Join(parts, "."), nil
}

// Rebalance implements sdk.Rebalancer for a source opened with
// Coordinate: it marks the partitions released that an earlier answer
// revoked, which lets the group's rebalance go on, and returns the next
// change of the partitions assigned to this process (the first call: the
// first assignment, possibly empty), waiting for it. It fails if the
// group cannot be joined (a session_timeout the brokers refuse, no
// authorization), and once Close has begun.
func (s *Source) Rebalance(ctx context.Context, released []string) (sdk.Assignment, error) {
	if s.grp == nil {
		return sdk.Assignment{}, errors.New("rebalance: the source was not opened with Coordinate")
	}
	return s.grp.rebalance(ctx, released)
}

// group is a coordinating source's membership of the consumer group
// through which the processes running a pipeline share its partitions
// (sdk.Rebalancer). franz-go runs the group protocol (classic, with its
// default cooperative-sticky balancer) on goroutines of its own and calls
// the callbacks below one at a time; they queue the changes for
// Rebalance. The client reads nothing: its topics are paused, and the
// instances opened with sdk.OpenRequest.Partitions read.
type group struct {
	name    string
	cl      *kgo.Client         // the member
	adm     *kgo.Client         // sends the commits, apart from the member's own requests
	session string              // the session_timeout, for an error that names it
	ids     map[string][16]byte // topic IDs, by which OffsetCommit v10+ names topics
	logf    func(format string, args ...any)

	mu       sync.Mutex
	changed  chan struct{}    // closed, and replaced, at every change below
	events   []sdk.Assignment // changes not yet returned by Rebalance
	joined   bool             // the first assignment was queued
	revoking map[string]bool  // revoked, not yet released: true once Rebalance told the host
	owned    map[string]bool  // assigned, and neither released nor lost: what Ack commits
	closing  bool             // Close has begun: callbacks wait for nothing
	fatal    error            // a group error the client cannot get past
	failing  string           // the group error last logged, until the next assignment
}

// newGroup returns a group, not yet joined.
func newGroup(name, session string, logf func(string, ...any)) *group {
	return &group{
		name: name, session: session, logf: logf,
		ids:     map[string][16]byte{},
		changed: make(chan struct{}), revoking: map[string]bool{}, owned: map[string]bool{},
	}
}

// opts returns the franz-go options that make a client a member of the
// group, subscribed to topics.
func (g *group) opts(cfg *Config, topics []string) []kgo.Opt {
	return []kgo.Opt{
		kgo.ConsumerGroup(g.name),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(cfg.sessionTimeout()),
		kgo.RebalanceTimeout(cfg.rebalanceTimeout()),
		kgo.HeartbeatInterval(cfg.heartbeatInterval()),
		kgo.OnPartitionsAssigned(g.assigned),
		kgo.OnPartitionsRevoked(g.revoked),
		kgo.OnPartitionsLost(g.lost),
		kgo.WithHooks(manageErrorHook{g}),
	}
}

// changedLocked wakes whoever waits for a change; g.mu is held.
func (g *group) changedLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// waitLocked releases g.mu until the next change or ctx, and reports
// whether it was a change; g.mu is held again when it returns.
func (g *group) waitLocked(ctx context.Context) bool {
	ch := g.changed
	g.mu.Unlock()
	defer g.mu.Lock()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

// assigned is franz-go's OnPartitionsAssigned: it queues the partitions
// newly assigned, or the first assignment even if empty. Called before
// the client fetches them, it pauses their topics, so that it never does.
func (g *group) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	cl.PauseFetchTopics(slices.Collect(maps.Keys(assigned))...)
	names := partitionNames(assigned)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failing = ""
	for _, name := range names {
		g.owned[name] = true
	}
	if len(names) > 0 || !g.joined {
		g.joined = true
		g.events = append(g.events, sdk.Assignment{Assigned: names})
		g.changedLocked()
	}
}

// revoked is franz-go's OnPartitionsRevoked: it queues the partitions
// revoked and waits until the host has released all of them (or the
// source closes), which holds the rebalance back: the other members get
// them only once this one has checkpointed them. Revoking nothing (at
// the end of every session), or when leaving the group on Close, it does
// nothing.
func (g *group) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	names := partitionNames(revoked)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(names) == 0 || g.closing {
		return
	}
	for _, name := range names {
		g.revoking[name] = false
	}
	g.events = append(g.events, sdk.Assignment{Revoked: names})
	g.changedLocked()
	for g.revokingAny(names) && !g.closing {
		if !g.waitLocked(ctx) {
			return // the client is closed
		}
	}
}

// revokingAny reports whether any of names waits to be released; g.mu
// is held.
func (g *group) revokingAny(names []string) bool {
	for _, name := range names {
		if _, ok := g.revoking[name]; ok {
			return true
		}
	}
	return false
}

// lost is franz-go's OnPartitionsLost: the group has moved on without
// this member (it missed its session timeout, or the group failed), so
// the partitions are queued as lost, and nothing is waited for.
func (g *group) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	names := partitionNames(lost)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(names) == 0 || g.closing {
		return
	}
	for _, name := range names {
		delete(g.owned, name)
		delete(g.revoking, name)
	}
	g.events = append(g.events, sdk.Assignment{Revoked: names, Lost: true})
	g.changedLocked()
}

// manageErrorHook passes the errors that end a group session to the
// group.
type manageErrorHook struct{ g *group }

func (h manageErrorHook) OnGroupManageError(err error) { h.g.manageError(err) }

// manageError logs an error that ended a group session (franz-go then
// rejoins), once until the next assignment; one the client cannot get
// past fails the next Rebalance.
func (g *group) manageError(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case errors.Is(err, kerr.InvalidSessionTimeout):
		g.fatal = fmt.Errorf("consumer group %s: %w: session_timeout %s is outside what the brokers allow "+
			"(group.min.session.timeout.ms, group.max.session.timeout.ms)", g.name, err, g.session)
	case errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.InconsistentGroupProtocol), errors.Is(err, kerr.InvalidGroupID):
		g.fatal = fmt.Errorf("consumer group %s: %w", g.name, err)
	default:
		if msg := err.Error(); msg != g.failing {
			g.failing = msg
			g.logf("consumer group %s: %v (rejoining)", g.name, err)
		}
		return
	}
	g.changedLocked()
}

// rebalance marks released as released, waking the revoke that waits for
// them, then returns the next change of the assignment, waiting for it
// if there is none.
func (g *group) rebalance(ctx context.Context, released []string) (sdk.Assignment, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.releaseLocked(released)
	for {
		switch {
		case len(g.events) > 0:
			return g.popLocked(), nil
		case g.fatal != nil:
			return sdk.Assignment{}, g.fatal
		case g.closing:
			return sdk.Assignment{}, errClosed
		}
		if !g.waitLocked(ctx) {
			return sdk.Assignment{}, ctx.Err()
		}
	}
}

// popLocked returns the next change queued, noting the partitions it
// revokes as told to the host; g.mu is held.
func (g *group) popLocked() sdk.Assignment {
	a := g.events[0]
	g.events = g.events[1:]
	if !a.Lost {
		for _, name := range a.Revoked {
			if _, ok := g.revoking[name]; ok {
				g.revoking[name] = true
			}
		}
	}
	return a
}

// releaseLocked marks partitions released, of those whose revoke the
// host was told about: a partition it releases after it was told of its
// loss may have been assigned and revoked again since, and the host must
// hear of that revoke before it can release it; g.mu is held.
func (g *group) releaseLocked(released []string) {
	n := 0
	for _, name := range released {
		if g.revoking[name] {
			delete(g.revoking, name)
			delete(g.owned, name)
			n++
		}
	}
	if n > 0 {
		g.changedLocked()
	}
}

// commit commits offsets to the group as its member, those of partitions
// the member owns only: a partition released or lost may already be
// another member's, whose commits must not be overwritten. The broker
// refuses a commit during a rebalance; that, like any failure, is logged
// and the offsets dropped: the next one commits newer offsets.
func (g *group) commit(ctx context.Context, offsets map[topicPartition]int64) {
	g.mu.Lock()
	req := kmsg.NewPtrOffsetCommitRequest()
	for _, tp := range slices.SortedFunc(maps.Keys(offsets), compareTopicPartitions) {
		if !g.owned[partitionName(tp.topic, tp.p)] {
			continue
		}
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.topic {
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic, t.TopicID = tp.topic, g.ids[tp.topic]
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = tp.p, offsets[tp], -1
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, p)
	}
	g.mu.Unlock()
	if len(req.Topics) == 0 {
		return
	}
	req.Group = g.name
	req.MemberID, req.Generation = g.cl.GroupMetadata()
	if req.MemberID == "" {
		return // between sessions: the next commit goes
	}
	resp, err := req.RequestWith(ctx, g.adm)
	if err == nil {
		err = g.commitError(resp)
	}
	if err != nil {
		g.logf("committing offsets to group %s: %v", g.name, err)
	}
}

// commitError returns the first error of a commit's partitions.
func (g *group) commitError(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s: %w", partitionName(g.topicName(t.Topic, t.TopicID), p.Partition), err)
			}
		}
	}
	return nil
}

// topicName returns the name of a topic a response names, by name or,
// from OffsetCommit v10 on, by ID.
func (g *group) topicName(name string, id [16]byte) string {
	if name != "" {
		return name
	}
	for n, i := range g.ids {
		if i == id {
			return n
		}
	}
	return fmt.Sprintf("topic id %x", id)
}

// close wakes whatever waits, then closes the client, which leaves the
// group (and calls revoked, which now returns at once).
func (g *group) close() {
	g.mu.Lock()
	g.closing = true
	g.changedLocked()
	g.mu.Unlock()
	g.cl.Close()
}

// partitionNames returns the names of partitions, sorted by topic, then
// number.
func partitionNames(m map[string][]int32) []string {
	var tps []topicPartition
	for topic, ps := range m {
		for _, p := range ps {
			tps = append(tps, topicPartition{topic, p})
		}
	}
	if len(tps) == 0 {
		return nil
	}
	slices.SortFunc(tps, compareTopicPartitions)
	names := make([]string, len(tps))
	for i, tp := range tps {
		names[i] = partitionName(tp.topic, tp.p)
	}
	return names
}

// compareTopicPartitions orders partitions by topic, then number.
func compareTopicPartitions(a, b topicPartition) int {
	return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.p, b.p))
}
