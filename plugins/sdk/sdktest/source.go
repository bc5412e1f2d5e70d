package sdktest

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// SourceCase describes a source plugin to RunSource.
type SourceCase struct {
	// Plugin is the source plugin under test.
	Plugin sdk.Plugin
	// Config is a valid config block (JSON) that yields a bounded input of
	// a few messages: reading it reaches sdk.ErrEndOfInput. It holds every
	// required field; the suite fills in the spec's defaults.
	Config []byte
	// Format is OpenRequest.Format ("json", "csv", "raw").
	Format string
	// BadConfigs are configs, by name, that the plugin must reject, with
	// diagnostics from Plugin.Validate or an error from Open.
	BadConfigs map[string][]byte
}

// RunSource runs the conformance checks of a source plugin as subtests
// of t, each twice: in subtests "in-process", on the plugin's own
// constructor, and "go-plugin", through the plugin transport as a host
// runs a plugin executable. It checks that
//
//   - the spec is well formed (sdk.Spec.Check) and of kind source, and
//     Validate accepts Config;
//   - Config without any one of its required fields is rejected, and so
//     is every config of BadConfigs;
//   - reading Config until sdk.ErrEndOfInput gives at least one message,
//     each with Payload or Fields (not both), a non-empty
//     Position.Partition, and a Time if the spec says Times; Read after the
//     end returns sdk.ErrEndOfInput again; Close returns nil;
//   - reopened with Resume set to the positions of the messages up to the
//     middle one, the source reads exactly the messages after them, in
//     the same order within each partition;
//   - Read with a cancelled context returns an error promptly.
//
// Every Open is followed by one Close. RunSource does not check for
// goroutines left running.
func RunSource(t *testing.T, c SourceCase) {
	t.Helper()
	if c.Plugin.NewSource == nil {
		t.Fatalf("plugin %q has no NewSource", c.Plugin.Spec.Name)
	}
	runModes(t, c.Plugin, func(t *testing.T, tg target) {
		config := withDefaults(t, tg.spec, c.Config)
		t.Run("spec", func(t *testing.T) {
			checkSpec(t, tg.spec, sdk.KindSource)
			checkValid(t, tg, config)
		})
		open := func(t *testing.T, src sdk.Source) func(context.Context, []byte) error {
			return func(ctx context.Context, config []byte) error {
				return src.Open(ctx, sdk.OpenRequest{Config: config, Format: c.Format, Settings: settings(t)})
			}
		}
		t.Run("missing", func(t *testing.T) {
			bad := withoutRequired(t, tg.spec, c.Config)
			for _, name := range slices.Sorted(maps.Keys(bad)) {
				t.Run(name, func(t *testing.T) {
					src := tg.newSource()
					checkRejected(t, tg, withDefaults(t, tg.spec, bad[name]), open(t, src), src.Close)
				})
			}
		})
		t.Run("bad", func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(c.BadConfigs)) {
				t.Run(name, func(t *testing.T) {
					src := tg.newSource()
					checkRejected(t, tg, withDefaults(t, tg.spec, c.BadConfigs[name]), open(t, src), src.Close)
				})
			}
		})
		var all []sdk.Message
		t.Run("read", func(t *testing.T) {
			all = readToEnd(t, tg, sdk.OpenRequest{Config: config, Format: c.Format, Settings: settings(t)})
			if len(all) == 0 {
				t.Fatal("the source ended without a message; Config must yield a few")
			}
			for i, m := range all {
				if len(m.Payload) > 0 && len(m.Fields) > 0 {
					t.Errorf("message %d has both Payload and Fields", i)
				}
				if m.Position.Partition == "" {
					t.Errorf("message %d: Position.Partition is empty", i)
				}
				if tg.spec.Times && m.Time.IsZero() {
					t.Errorf("message %d has no Time, but the spec says Times", i)
				}
			}
		})
		t.Run("resume", func(t *testing.T) {
			if len(all) == 0 {
				t.Skip("read failed")
			}
			k := (len(all) - 1) / 2
			resume := lastPositions(all[:k+1])
			got := readToEnd(t, tg, sdk.OpenRequest{Config: config, Format: c.Format, Resume: resume, Settings: settings(t)})
			want, have := byPartition(all[k+1:]), byPartition(got)
			for _, p := range slices.Sorted(maps.Keys(want)) {
				if !reflect.DeepEqual(have[p], want[p]) {
					t.Errorf("partition %q resumed at %v: read %d messages, want the %d after it\ngot:  %v\nwant: %v",
						p, resume, len(have[p]), len(want[p]), have[p], want[p])
				}
			}
			for _, p := range slices.Sorted(maps.Keys(have)) {
				if _, ok := want[p]; !ok {
					t.Errorf("partition %q resumed at %v: read %d messages, want none: %v", p, resume, len(have[p]), have[p])
				}
			}
		})
		t.Run("cancelled-read", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), runLimit)
			defer cancel()
			src := tg.newSource()
			if err := src.Open(ctx, sdk.OpenRequest{Config: config, Format: c.Format, Settings: settings(t)}); err != nil {
				_ = src.Close(ctx)
				t.Fatalf("Open: %v", err)
			}
			defer closeSource(t, src)
			cctx, ccancel := context.WithCancel(ctx)
			ccancel()
			var err error
			within(t, promptly, "Read with a cancelled context", func() { _, err = src.Read(cctx) })
			if err == nil {
				t.Error("Read with a cancelled context returned no error")
			}
		})
	})
}

// readToEnd opens a source with req, reads it until sdk.ErrEndOfInput,
// reads once more, which must return sdk.ErrEndOfInput again, and
// closes it. It returns the messages read.
func readToEnd(t *testing.T, tg target, req sdk.OpenRequest) []sdk.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runLimit)
	defer cancel()
	src := tg.newSource()
	if err := src.Open(ctx, req); err != nil {
		_ = src.Close(ctx)
		t.Fatalf("Open: %v", err)
	}
	defer closeSource(t, src)
	var msgs []sdk.Message
	for reads := 0; ; reads++ {
		if reads == maxReads {
			t.Fatalf("no end of input after %d Reads and %d messages; Config must give a bounded input", reads, len(msgs))
		}
		batch, err := src.Read(ctx)
		for _, m := range batch.Messages {
			msgs = append(msgs, normalize(m))
		}
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d messages: %v", len(msgs), err)
		}
	}
	batch, err := src.Read(ctx)
	if !errors.Is(err, sdk.ErrEndOfInput) || len(batch.Messages) > 0 {
		t.Errorf("Read after the end: %d messages, error %v; want none and %v", len(batch.Messages), err, sdk.ErrEndOfInput)
	}
	return msgs
}

// closeSource closes src, failing t if that fails.
func closeSource(t *testing.T, src sdk.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), runLimit)
	defer cancel()
	if err := src.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// lastPositions returns the position of the last of msgs in each
// partition, in the order the partitions first appear.
func lastPositions(msgs []sdk.Message) []sdk.Position {
	var out []sdk.Position
	index := make(map[string]int)
	for _, m := range msgs {
		i, ok := index[m.Position.Partition]
		if !ok {
			i = len(out)
			index[m.Position.Partition] = i
			out = append(out, sdk.Position{})
		}
		out[i] = m.Position
	}
	return out
}

// byPartition groups msgs by partition, keeping their order.
func byPartition(msgs []sdk.Message) map[string][]sdk.Message {
	out := make(map[string][]sdk.Message)
	for _, m := range msgs {
		out[m.Position.Partition] = append(out[m.Position.Partition], m)
	}
	return out
}

// normalize returns m in a form that compares with reflect.DeepEqual
// regardless of how it was made: empty slices are nil and times have no
// monotonic reading and are in UTC. Payload is copied, as a source may
// reuse its buffer on the next Read.
func normalize(m sdk.Message) sdk.Message {
	if len(m.Payload) == 0 {
		m.Payload = nil
	} else {
		m.Payload = slices.Clone(m.Payload)
	}
	m.Fields = normalizeFields(m.Fields)
	m.Meta = normalizeFields(m.Meta)
	m.Time = normalizeTime(m.Time)
	return m
}

func normalizeFields(fs []sdk.Field) []sdk.Field {
	if len(fs) == 0 {
		return nil
	}
	out := make([]sdk.Field, len(fs))
	for i, f := range fs {
		out[i] = sdk.Field{Name: f.Name, Value: normalizeValue(f.Value)}
	}
	return out
}

func normalizeValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return normalizeTime(v)
	case []byte:
		return slices.Clone(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalizeValue(e)
		}
		return out
	}
	return v
}

func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
