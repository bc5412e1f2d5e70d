package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// deliveryTimeout bounds the broker lookup of delivery.
const deliveryTimeout = 5 * time.Second

// delivery is the plugin's Delivery hook. Transactional, the sink writes
// exactly once. Otherwise rows written after the checkpoint a run resumes
// from are written again; that is idempotent only if the records are
// keyed by the pipeline's key and the topic is compacted, which it asks
// the brokers (within a few seconds; if they do not answer, the report
// says so).
func delivery(req sdk.DeliveryRequest) sdk.DeliveryReport {
	cfg, diags := parseConfig(req.Config)
	switch {
	case len(diags) > 0:
		return sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: "the config is not valid"}
	case cfg.Transactional:
		return sdk.DeliveryReport{Delivery: sdk.ExactlyOnce, Reason: "the rows of each checkpoint are written in one Kafka transaction, " +
			"committed with it; read_committed consumers see them once"}
	case len(req.Key) == 0:
		return atLeastOnce("the pipeline has no key")
	case cfg.KeyColumn != "" && !slices.Equal(req.Key, []string{cfg.KeyColumn}):
		return atLeastOnce(fmt.Sprintf("records are keyed by key_column %s, not by the pipeline's key", cfg.KeyColumn))
	case cfg.TopicColumn != "":
		return atLeastOnce(fmt.Sprintf("the topics come from column %s, whose compaction is not known", cfg.TopicColumn))
	}
	ok, policy, err := topicCompacted(cfg)
	switch {
	case err != nil:
		return atLeastOnce(fmt.Sprintf("the cleanup.policy of topic %s could not be read (%v)", cfg.Topic, err))
	case !ok:
		return atLeastOnce(fmt.Sprintf("topic %s is not compacted (cleanup.policy=%s)", cfg.Topic, policy))
	}
	return sdk.DeliveryReport{Delivery: sdk.Idempotent, Reason: fmt.Sprintf(
		"records are keyed by %s and topic %s is compacted: rows written again after a crash replace the earlier ones",
		strings.Join(req.Key, ", "), cfg.Topic)}
}

// atLeastOnce is the at-least-once report, with why it is not better.
func atLeastOnce(why string) sdk.DeliveryReport {
	return sdk.DeliveryReport{Delivery: sdk.AtLeastOnce, Reason: why +
		": rows written after the checkpoint a run resumes from are written again; set transactional: true for exactly-once"}
}

// topicCompacted asks the brokers whether the sink's topic is compacted.
func topicCompacted(cfg Config) (bool, string, error) {
	opts, err := cfg.ClientOpts()
	if err != nil {
		return false, "", err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return false, "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), min(deliveryTimeout, cfg.Timeout()))
	defer cancel()
	ok, policy, err := compacted(ctx, kadm.NewClient(cl), cfg.Topic)
	if se, isShard := errors.AsType[*kadm.ShardErrors](err); isShard && len(se.Errs) > 0 {
		err = se.Errs[0].Err // the broker's, without kadm's framing
	}
	return ok, policy, err
}
