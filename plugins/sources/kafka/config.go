package kafka

import (
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/flowctl/flowctl/plugins/internal/kafkaconn"
	"github.com/flowctl/flowctl/plugins/sdk"
)

// The start positions and isolation levels.
const (
	startEarliest   = "earliest"
	startLatest     = "latest"
	readCommitted   = "read_committed"
	readUncommitted = "read_uncommitted"
)

// Defaults of the fetch settings.
const (
	defaultFetchMaxBytes          = 50 << 20
	defaultFetchMaxPartitionBytes = 1 << 20
	defaultFetchMaxWait           = "500ms"
	minFetchMaxWait               = 10 * time.Millisecond // franz-go's lower bound
)

// Defaults and bounds of the group settings, used when scaled out.
const (
	defaultSessionTimeout   = "10s"
	defaultRebalanceTimeout = "60s"
	minGroupTimeout         = 100 * time.Millisecond // franz-go's lower bound
	maxGroupTimeout         = 24 * time.Hour
	maxHeartbeatInterval    = 3 * time.Second // franz-go's and Java's default
)

// Config is the kafka source's config block.
type Config struct {
	kafkaconn.Conn
	// Topics are the topics to read; TopicRegex is the alternative.
	Topics []string `json:"topics"`
	// TopicRegex selects the topics to read by a regular expression
	// matched against the topic names when the source opens.
	TopicRegex string `json:"topic_regex"`
	// Group is the consumer group the source commits its offsets to;
	// scaled out, the group whose members share the partitions.
	Group string `json:"group"`
	// Start is where a partition without a resume position is read
	// from: earliest, latest or an RFC 3339 timestamp.
	Start string `json:"start"`
	// Bounded ends the source at the end offsets found when it opens.
	Bounded bool `json:"bounded"`
	// Isolation is read_committed or read_uncommitted.
	Isolation string `json:"isolation"`
	// Fetch sizes and wait, as franz-go and the Java client name them.
	FetchMaxBytes          int64  `json:"fetch_max_bytes"`
	FetchMaxPartitionBytes int64  `json:"fetch_max_partition_bytes"`
	FetchMaxWait           string `json:"fetch_max_wait"`
	// SessionTimeout and RebalanceTimeout tune the consumer group a
	// scaled-out source joins.
	SessionTimeout   string `json:"session_timeout"`
	RebalanceTimeout string `json:"rebalance_timeout"`
}

// fields are the config fields of the spec.
func fields() []sdk.FieldSpec {
	fs := []sdk.FieldSpec{kafkaconn.BrokersField(), {
		Name: "topics",
		Type: sdk.TypeList,
		Elem: sdk.TypeString,
		Doc:  "The topics to read, every partition of each. Set this or `topic_regex`.",
	}, {
		Name: "topic_regex",
		Type: sdk.TypeString,
		Doc: "Read every topic whose name the regular expression (Go syntax, unanchored) matches, " +
			"except internal ones (`__consumer_offsets`); matched when the source opens.",
	}, {
		Name: "group",
		Type: sdk.TypeString,
		Doc: "Consumer group to commit offsets to once the checkpoint that covers them is durable, " +
			"so that lag tools see progress. The group's offsets are never read: positions come from the checkpoint. " +
			"With `scale_out: true`, the group the processes running the pipeline share the partitions through; " +
			"empty: `flowctl.PIPELINE.SOURCE`.",
	}, {
		Name:    "start",
		Type:    sdk.TypeString,
		Default: startEarliest,
		Doc: "Where to read a partition that the checkpoint holds no position for: `earliest`, `latest`, " +
			"or an RFC 3339 timestamp (`2026-03-17T00:00:00Z`) for the first record at or after it.",
	}, {
		Name:    "bounded",
		Type:    sdk.TypeBool,
		Default: false,
		Doc: "Read up to the end offsets found when the source opens, then end, so that a topic is " +
			"aggregated or backfilled like a file.",
	}, {
		Name:    "isolation",
		Type:    sdk.TypeString,
		Default: readCommitted,
		Enum:    []string{readCommitted, readUncommitted},
		Doc: "`read_committed` reads only committed transactions (what transactional producers, " +
			"such as the kafka sink, made visible); `read_uncommitted` reads everything.",
	}, {
		Name:    "fetch_max_bytes",
		Type:    sdk.TypeInt,
		Default: int64(defaultFetchMaxBytes),
		Doc:     "Most bytes a broker returns for one fetch (Java's `fetch.max.bytes`).",
	}, {
		Name:    "fetch_max_partition_bytes",
		Type:    sdk.TypeInt,
		Default: int64(defaultFetchMaxPartitionBytes),
		Doc:     "Most bytes a broker returns per partition in one fetch (Java's `max.partition.fetch.bytes`).",
	}, {
		Name:    "fetch_max_wait",
		Type:    sdk.TypeDuration,
		Default: defaultFetchMaxWait,
		Doc:     "How long a broker holds a fetch open waiting for new records (at least `10ms`).",
	}, {
		Name:    "session_timeout",
		Type:    sdk.TypeDuration,
		Default: defaultSessionTimeout,
		Doc: "With `scale_out: true`: how long the group waits for a process that stopped heartbeating " +
			"before it gives that process's partitions to the others (Java's `session.timeout.ms`; heartbeats go " +
			"every third of it, at most every 3s). The brokers allow `group.min.session.timeout.ms` (6s) to " +
			"`group.max.session.timeout.ms` (30m).",
	}, {
		Name:    "rebalance_timeout",
		Type:    sdk.TypeDuration,
		Default: defaultRebalanceTimeout,
		Doc: "With `scale_out: true`: how long the group waits for every process to rejoin once a rebalance has begun. " +
			"A process still checkpointing the partitions taken from it when another rebalance begins must finish within it, " +
			"or it is dropped from the group and its partitions are lost instead of handed over.",
	}}
	return append(fs, kafkaconn.Fields()...)
}

// startTime returns the start timestamp, if Start is one; c must be valid.
func (c *Config) startTime() (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, c.Start)
	return t, err == nil
}

// readCommitted reports whether only committed records are read.
func (c *Config) readCommitted() bool { return c.Isolation != readUncommitted }

// fetchMaxWait returns the fetch wait; c must be valid.
func (c *Config) fetchMaxWait() time.Duration {
	return durationOr(c.FetchMaxWait, defaultFetchMaxWait)
}

// sessionTimeout returns the session timeout; c must be valid.
func (c *Config) sessionTimeout() time.Duration {
	return durationOr(c.SessionTimeout, defaultSessionTimeout)
}

// rebalanceTimeout returns the rebalance timeout; c must be valid.
func (c *Config) rebalanceTimeout() time.Duration {
	return durationOr(c.RebalanceTimeout, defaultRebalanceTimeout)
}

// heartbeatInterval returns how often a group member heartbeats: a third
// of the session timeout, at most every 3s.
func (c *Config) heartbeatInterval() time.Duration {
	return min(c.sessionTimeout()/3, maxHeartbeatInterval)
}

// durationOr parses s, or def if s is not a duration.
func durationOr(s, def string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		d, _ = time.ParseDuration(def)
	}
	return d
}

// Validate reports the problems of c, keyed by field.
func (c *Config) Validate() []sdk.Diagnostic {
	diags := c.Conn.Validate(nil)
	switch {
	case len(c.Topics) == 0 && c.TopicRegex == "":
		diags = append(diags, sdk.Diagnostic{Path: "topics", Msg: "set topics or topic_regex"})
	case len(c.Topics) > 0 && c.TopicRegex != "":
		diags = append(diags, sdk.Diagnostic{Path: "topic_regex", Msg: "set only one of topics and topic_regex"})
	}
	seen := make(map[string]bool, len(c.Topics))
	for i, t := range c.Topics {
		path := fmt.Sprintf("topics[%d]", i)
		if msg := kafkaconn.CheckTopic(t); msg != "" {
			diags = append(diags, sdk.Diagnostic{Path: path, Msg: msg})
		} else if seen[t] {
			diags = append(diags, sdk.Diagnostic{Path: path, Msg: fmt.Sprintf("%q is listed twice", t)})
		}
		seen[t] = true
	}
	if c.TopicRegex != "" {
		if _, err := regexp.Compile(c.TopicRegex); err != nil {
			diags = append(diags, sdk.Diagnostic{Path: "topic_regex", Msg: fmt.Sprintf("bad regular expression: %v", err)})
		}
	}
	if _, ok := c.startTime(); !ok && c.Start != "" && c.Start != startEarliest && c.Start != startLatest {
		diags = append(diags, sdk.Diagnostic{Path: "start", Msg: fmt.Sprintf(
			"%q is not earliest, latest or an RFC 3339 timestamp such as \"2026-03-17T00:00:00Z\"", c.Start)})
	}
	switch c.Isolation {
	case "", readCommitted, readUncommitted:
	default:
		diags = append(diags, sdk.Diagnostic{Path: "isolation", Msg: fmt.Sprintf("must be %s or %s, not %q", readCommitted, readUncommitted, c.Isolation)})
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"fetch_max_bytes", c.FetchMaxBytes}, {"fetch_max_partition_bytes", c.FetchMaxPartitionBytes}} {
		if f.v <= 0 || f.v > math.MaxInt32 {
			diags = append(diags, sdk.Diagnostic{Path: f.name, Msg: fmt.Sprintf("must be between 1 and %d, not %d", math.MaxInt32, f.v)})
		}
	}
	if d, err := time.ParseDuration(c.FetchMaxWait); err != nil || d < minFetchMaxWait || d > time.Hour {
		diags = append(diags, sdk.Diagnostic{Path: "fetch_max_wait", Msg: fmt.Sprintf("%q is not a duration between 10ms and 1h", c.FetchMaxWait)})
	}
	for _, f := range []struct{ name, v string }{{"session_timeout", c.SessionTimeout}, {"rebalance_timeout", c.RebalanceTimeout}} {
		if d, err := time.ParseDuration(f.v); err != nil || d < minGroupTimeout || d > maxGroupTimeout {
			diags = append(diags, sdk.Diagnostic{Path: f.name, Msg: fmt.Sprintf("%q is not a duration between 100ms and 24h", f.v)})
		}
	}
	return diags
}

// parseConfig decodes and validates a config block, with the spec's
// defaults for the fields it lacks.
func parseConfig(config []byte) (Config, []sdk.Diagnostic) {
	c := Config{
		Conn:                   kafkaconn.Conn{ClientID: kafkaconn.DefaultClient, ConnectTimeout: "10s"},
		Start:                  startEarliest,
		Isolation:              readCommitted,
		FetchMaxBytes:          defaultFetchMaxBytes,
		FetchMaxPartitionBytes: defaultFetchMaxPartitionBytes,
		FetchMaxWait:           defaultFetchMaxWait,
		SessionTimeout:         defaultSessionTimeout,
		RebalanceTimeout:       defaultRebalanceTimeout,
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
