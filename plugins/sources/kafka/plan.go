package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// plan finds the partitions to read (every partition of the topics, or
// only those named, see sdk.OpenRequest.Partitions) and, for each, the
// offset to read from and the end offset: the high watermark, or under
// read_committed the last stable offset, when the source opens. A
// partition is read from its resume position if it has one, else from
// the start position.
func (s *Source) plan(ctx context.Context, resume []sdk.Position, only []string) error {
	var topics []kadm.TopicDetail
	var wanted map[topicPartition]bool // nil: every partition
	var err error
	if only != nil {
		topics, wanted, err = s.partitionTopics(ctx, only)
	} else {
		topics, err = s.topics(ctx)
	}
	if err != nil {
		return err
	}
	s.parts = make(map[topicPartition]*partition)
	if len(topics) == 0 { // no partitions named
		return nil
	}
	names := make([]string, 0, len(topics))
	for _, td := range topics {
		names = append(names, td.Topic)
	}
	starts, err := s.list(ctx, "start", s.adm.ListStartOffsets, names)
	if err != nil {
		return err
	}
	listEnds := s.adm.ListEndOffsets
	if s.cfg.readCommitted() {
		listEnds = s.adm.ListCommittedOffsets
	}
	ends, err := s.list(ctx, "end", listEnds, names)
	if err != nil {
		return err
	}
	from := starts
	switch t, isTime := s.cfg.startTime(); {
	case s.cfg.Start == startLatest:
		from = ends
	case isTime:
		after := func(ctx context.Context, topics ...string) (kadm.ListedOffsets, error) {
			return s.adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topics...)
		}
		if from, err = s.list(ctx, "start time", after, names); err != nil {
			return err
		}
	}
	resumeAt := make(map[string]int64, len(resume))
	for _, pos := range resume {
		resumeAt[pos.Partition] = pos.Offset
	}
	for _, td := range topics {
		for _, p := range td.Partitions.Numbers() {
			tp := topicPartition{td.Topic, p}
			if wanted != nil && !wanted[tp] {
				continue
			}
			st := &partition{name: partitionName(td.Topic, p), end: offsetOf(ends, tp)}
			start := offsetOf(starts, tp)
			st.next = offsetOf(from, tp)
			if at, ok := resumeAt[st.name]; ok {
				st.next = s.resumeOffset(st.name, at, start, st.end)
				delete(resumeAt, st.name)
			}
			if s.cfg.Bounded && st.next >= st.end {
				st.done = true
			} else if s.cfg.Bounded {
				s.left++
			}
			s.parts[tp] = st
		}
	}
	for _, name := range slices.Sorted(maps.Keys(resumeAt)) {
		s.logf("resume position %s@%d: not a partition of the topics read; ignored", name, resumeAt[name])
	}
	return nil
}

// resumeOffset returns where to resume a partition whose checkpoint says
// at, given its log start and end offsets: at itself, unless retention
// deleted it or it is past the end (the topic was recreated), in which
// cases the partition is read from its start, and that is logged.
func (s *Source) resumeOffset(name string, at, start, end int64) int64 {
	switch {
	case at < start:
		s.logf("%s: resume offset %d was deleted by retention; reading from the log start, %d", name, at, start)
		return start
	case at > end:
		s.logf("%s: resume offset %d is past the end of the partition, %d (was the topic recreated?); reading from the log start, %d", name, at, end, start)
		return start
	}
	return at
}

// topics returns the topics to read with their partitions, sorted by name.
func (s *Source) topics(ctx context.Context) ([]kadm.TopicDetail, error) {
	if s.cfg.TopicRegex != "" {
		re := regexp.MustCompile(s.cfg.TopicRegex) // checked by Validate
		all, err := s.adm.ListTopics(ctx)
		if err != nil {
			return nil, fmt.Errorf("list topics: %w", err)
		}
		var out []kadm.TopicDetail
		for _, td := range all.Sorted() {
			if re.MatchString(td.Topic) && !td.IsInternal {
				if td.Err != nil {
					return nil, fmt.Errorf("topic %q: %w", td.Topic, td.Err)
				}
				out = append(out, td)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("topic_regex %q matches none of the %d topics", s.cfg.TopicRegex, len(all))
		}
		return out, nil
	}
	details, err := s.adm.ListTopics(ctx, s.cfg.Topics...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make([]kadm.TopicDetail, 0, len(s.cfg.Topics))
	for _, t := range s.cfg.Topics {
		td, ok := details[t]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			return nil, fmt.Errorf("topic %q does not exist", t)
		case td.Err != nil:
			return nil, fmt.Errorf("topic %q: %w", t, td.Err)
		}
		out = append(out, td)
	}
	slices.SortFunc(out, func(a, b kadm.TopicDetail) int { return strings.Compare(a.Topic, b.Topic) })
	return out, nil
}

// partitionTopics returns the topics of the named partitions, sorted by
// name, and the partitions. It fails naming a partition that is not
// "topic/N", whose topic is not one the source reads, or that does not
// exist.
func (s *Source) partitionTopics(ctx context.Context, names []string) ([]kadm.TopicDetail, map[topicPartition]bool, error) {
	wanted := make(map[topicPartition]bool, len(names))
	if len(names) == 0 {
		return nil, wanted, nil
	}
	var topics []string
	for _, name := range names {
		tp, ok := parsePartition(name)
		if !ok {
			return nil, nil, fmt.Errorf("partition %q is not a kafka partition (topic/N)", name)
		}
		if !s.reads(tp.topic) {
			return nil, nil, fmt.Errorf("partition %q: topic %q is not one the source reads", name, tp.topic)
		}
		wanted[tp] = true
		if !slices.Contains(topics, tp.topic) {
			topics = append(topics, tp.topic)
		}
	}
	details, err := s.adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, nil, fmt.Errorf("list topics: %w", err)
	}
	for _, name := range names {
		tp, _ := parsePartition(name)
		td, ok := details[tp.topic]
		switch {
		case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
			return nil, nil, fmt.Errorf("partition %q: topic %q does not exist", name, tp.topic)
		case td.Err != nil:
			return nil, nil, fmt.Errorf("partition %q: topic %q: %w", name, tp.topic, td.Err)
		}
		if _, ok := td.Partitions[tp.p]; !ok {
			return nil, nil, fmt.Errorf("partition %q does not exist: topic %q has %d partitions", name, tp.topic, len(td.Partitions))
		}
	}
	return details.Sorted(), wanted, nil
}

// reads reports whether topic is one of the source's: listed in topics,
// or matched by topic_regex.
func (s *Source) reads(topic string) bool {
	if s.cfg.TopicRegex != "" {
		return regexp.MustCompile(s.cfg.TopicRegex).MatchString(topic) // checked by Validate
	}
	return slices.Contains(s.cfg.Topics, topic)
}

// list lists offsets of the topics with one of kadm's List*Offsets,
// failing if any partition has an error.
func (s *Source) list(ctx context.Context, what string, fn func(context.Context, ...string) (kadm.ListedOffsets, error), topics []string) (kadm.ListedOffsets, error) {
	offsets, err := fn(ctx, topics...)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list %s offsets: %w", what, err)
	}
	return offsets, nil
}

// offsetOf returns the listed offset of a partition, 0 if none was listed.
func offsetOf(l kadm.ListedOffsets, tp topicPartition) int64 {
	o, ok := l.Lookup(tp.topic, tp.p)
	if !ok || o.Offset < 0 {
		return 0
	}
	return o.Offset
}
