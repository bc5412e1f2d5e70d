package kafka

import (
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/flowctl/flowctl/plugins/internal/kafkaconn"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// Enumerated config values.
const (
	acksAll    = "all"
	acksLeader = "leader"
	acksNone   = "none"

	defaultMarkerTopic        = "flowctl_commits"
	defaultTransactionTimeout = "1m"
)

// compressions maps the compression names to franz-go's codecs.
var compressions = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// compressionNames lists the compression names in the order the spec shows.
var compressionNames = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// Config is the kafka sink's config block.
type Config struct {
	kafkaconn.Conn
	// Topic is the topic every row goes to; TopicColumn the alternative.
	Topic string `json:"topic"`
	// TopicColumn names the column holding each row's topic.
	TopicColumn string `json:"topic_column"`
	// KeyColumn names the column that is the record key; empty means
	// the pipeline's key columns.
	KeyColumn string `json:"key_column"`
	// HeaderColumns are columns also written as record headers.
	HeaderColumns []string `json:"header_columns"`
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string `json:"compression"`
	// Acks is all, leader or none.
	Acks string `json:"acks"`
	// Idempotent makes the producer idempotent (no duplicates from
	// retries); it needs acks all.
	Idempotent bool `json:"idempotent"`
	// Transactional writes each checkpoint's rows in one transaction.
	Transactional bool `json:"transactional"`
	// TransactionalID overrides the sink's identity, by default
	// flowctl.<pipeline>.<sink>; an instance's follows it after a dot.
	TransactionalID string `json:"transactional_id"`
	// TransactionTimeout is how long the broker keeps a transaction
	// open before it aborts it.
	TransactionTimeout string `json:"transaction_timeout"`
	// MarkerTopic holds the sink's commit markers.
	MarkerTopic string `json:"marker_topic"`
}

// fields are the config fields of the spec.
func fields() []sdk.FieldSpec {
	fs := []sdk.FieldSpec{kafkaconn.BrokersField(), {
		Name: "topic",
		Type: sdk.TypeString,
		Doc:  "The topic every row is written to. Set this or `topic_column`.",
	}, {
		Name: "topic_column",
		Type: sdk.TypeString,
		Doc:  "The column whose value (a string) is the topic each row is written to.",
	}, {
		Name: "key_column",
		Type: sdk.TypeString,
		Doc: "The column whose value is the record key. Empty: the pipeline's `key` columns, " +
			"one as its text, several as a JSON object; no key: records without a key.",
	}, {
		Name: "header_columns",
		Type: sdk.TypeList,
		Elem: sdk.TypeString,
		Doc:  "Columns also written as record headers named after them, with their values as text (null values are left out).",
	}, {
		Name:    "compression",
		Type:    sdk.TypeString,
		Default: "none",
		Enum:    compressionNames,
		Doc:     "How record batches are compressed.",
	}, {
		Name:    "acks",
		Type:    sdk.TypeString,
		Default: acksAll,
		Enum:    []string{acksAll, acksLeader, acksNone},
		Doc:     "Which brokers acknowledge a write: every in-sync replica, the leader only, or none.",
	}, {
		Name:    "idempotent",
		Type:    sdk.TypeBool,
		Default: true,
		Doc:     "Idempotent producer: retries never write a record twice. Needs `acks: all`.",
	}, {
		Name:    "transactional",
		Type:    sdk.TypeBool,
		Default: false,
		Doc: "Exactly-once: the rows of each checkpoint are written in one transaction, " +
			"committed with the checkpoint; `read_committed` consumers see them only then.",
	}, {
		Name: "transactional_id",
		Type: sdk.TypeString,
		Doc: "The sink's identity in Kafka: its transactional id and the key of its commit markers. " +
			"Empty: `flowctl.PIPELINE.SINK`. A sink run as one of several instances (a partition of a " +
			"scaled-out pipeline, a backfill slice) appends `.INSTANCE`. Two running sinks must not share one.",
	}, {
		Name:    "transaction_timeout",
		Type:    sdk.TypeDuration,
		Default: defaultTransactionTimeout,
		Doc: "How long the broker lets a transaction stay open before aborting it; " +
			"longer than the checkpoint interval, at most the broker's `transaction.max.timeout.ms`.",
	}, {
		Name:    "marker_topic",
		Type:    sdk.TypeString,
		Default: defaultMarkerTopic,
		Doc: "The topic of the commit markers, which record the last checkpoint each sink wrote; " +
			"created (one partition, compacted) if missing.",
	}}
	return append(fs, kafkaconn.Fields()...)
}

// transactionTimeout returns the transaction timeout; c must be valid.
func (c *Config) transactionTimeout() time.Duration {
	d, err := time.ParseDuration(c.TransactionTimeout)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(defaultTransactionTimeout)
	}
	return d
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	diags := c.Conn.Validate(nil)
	switch {
	case c.Topic == "" && c.TopicColumn == "":
		diags = append(diags, sdk.Diagnostic{Path: "topic", Msg: "set topic or topic_column"})
	case c.Topic != "" && c.TopicColumn != "":
		diags = append(diags, sdk.Diagnostic{Path: "topic_column", Msg: "set only one of topic and topic_column"})
	case c.Topic != "":
		if msg := kafkaconn.CheckTopic(c.Topic); msg != "" {
			diags = append(diags, sdk.Diagnostic{Path: "topic", Msg: msg})
		}
	}
	for i, h := range c.HeaderColumns {
		if h == "" {
			diags = append(diags, sdk.Diagnostic{Path: fmt.Sprintf("header_columns[%d]", i), Msg: "must not be empty"})
		} else if slices.Index(c.HeaderColumns, h) < i {
			diags = append(diags, sdk.Diagnostic{Path: fmt.Sprintf("header_columns[%d]", i), Msg: fmt.Sprintf("%q is listed twice", h)})
		}
	}
	if _, ok := compressions[c.Compression]; !ok {
		diags = append(diags, sdk.Diagnostic{Path: "compression", Msg: fmt.Sprintf("%q is not one of none, gzip, snappy, lz4, zstd", c.Compression)})
	}
	switch c.Acks {
	case acksAll:
	case acksLeader, acksNone:
		if c.Transactional {
			diags = append(diags, sdk.Diagnostic{Path: "acks", Msg: "transactional needs acks: all"})
		} else if c.Idempotent {
			diags = append(diags, sdk.Diagnostic{Path: "acks", Msg: "an idempotent producer needs acks: all; set idempotent: false to use acks: " + c.Acks})
		}
	default:
		diags = append(diags, sdk.Diagnostic{Path: "acks", Msg: fmt.Sprintf("%q is not one of all, leader, none", c.Acks)})
	}
	if c.Transactional && !c.Idempotent {
		diags = append(diags, sdk.Diagnostic{Path: "idempotent", Msg: "transactional needs an idempotent producer"})
	}
	if d, err := time.ParseDuration(c.TransactionTimeout); err != nil || d < time.Second {
		diags = append(diags, sdk.Diagnostic{Path: "transaction_timeout", Msg: fmt.Sprintf("%q is not a duration of at least 1s", c.TransactionTimeout)})
	}
	if msg := kafkaconn.CheckTopic(c.MarkerTopic); msg != "" {
		diags = append(diags, sdk.Diagnostic{Path: "marker_topic", Msg: msg})
	}
	return diags
}

// parseConfig decodes and validates a config block, with the spec's
// defaults for the fields it lacks.
func parseConfig(config []byte) (Config, []sdk.Diagnostic) {
	c := Config{
		Conn:               kafkaconn.Conn{ClientID: kafkaconn.DefaultClient, ConnectTimeout: "10s"},
		Compression:        "none",
		Acks:               acksAll,
		Idempotent:         true,
		TransactionTimeout: defaultTransactionTimeout,
		MarkerTopic:        defaultMarkerTopic,
	}
	if err := sdk.DecodeConfig(config, &c); err != nil {
		return c, []sdk.Diagnostic{{Msg: err.Error()}}
	}
	return c, c.Validate()
}

// validate is the plugin's Validate hook.
func validate(config []byte) []sdk.Diagnostic {
	_, diags := parseConfig(config)
	return diags
}
