// Command flowctl-plugin-echo is the third-party plugin of the CLI tests:
// a source that emits count messages {"n": i} and a sink that writes
// rows as JSON lines to a file. With ECHO_BROKEN=1 in its environment it
// breaks the plugin contract, for `flowctl plugin test` to catch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/flowctl/flowctl/plugins/sdk"
)

func main() {
	sdk.Serve(source(), sink())
}

var broken = os.Getenv("ECHO_BROKEN") == "1"

type sourceConfig struct {
	Count int64 `json:"count"`
	// KillOnce names a file: if it does not exist yet, the source
	// creates it and kills its own process with SIGKILL after KillAfter
	// messages.
	KillOnce  string `json:"kill_once"`
	KillAfter int64  `json:"kill_after"`
}

func source() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "echo", Kind: sdk.KindSource, Version: "0.3.0",
			Summary: "Emits count messages {\"n\": i}.",
			Fields: []sdk.FieldSpec{
				{Name: "count", Type: sdk.TypeInt, Required: true, Doc: "How many messages."},
				{Name: "kill_once", Type: sdk.TypeString, Doc: "A marker file: kill the process once."},
				{Name: "kill_after", Type: sdk.TypeInt, Default: 0, Doc: "Messages before the kill."},
			},
		},
		NewSource: func() sdk.Source { return &echoSource{} },
		Validate: func(config []byte) []sdk.Diagnostic {
			var c struct {
				sourceConfig
				Count *int64 `json:"count"`
			}
			if err := sdk.DecodeConfig(config, &c); err != nil {
				return []sdk.Diagnostic{{Msg: err.Error()}}
			}
			if c.Count == nil {
				return []sdk.Diagnostic{{Path: "count", Msg: "is required"}}
			}
			if *c.Count < 0 && !broken {
				return []sdk.Diagnostic{{Path: "count", Msg: fmt.Sprintf("must not be negative, got %d", *c.Count)}}
			}
			return nil
		},
	}
}

type echoSource struct {
	cfg  sourceConfig
	next int64
	log  sdk.Logger
}

func (s *echoSource) Open(_ context.Context, req sdk.OpenRequest) error {
	if err := sdk.DecodeConfig(req.Config, &s.cfg); err != nil {
		return err
	}
	for _, p := range req.Resume {
		s.next = p.Offset + 1
	}
	s.log = req.Settings.Logger
	return nil
}

func (s *echoSource) Read(ctx context.Context) (sdk.Batch, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Batch{}, err
	}
	if s.next >= s.cfg.Count {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	if s.cfg.KillOnce != "" && s.next == s.cfg.KillAfter {
		if f, err := os.OpenFile(s.cfg.KillOnce, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); err == nil {
			f.Close()
			s.log.Printf("killing myself after %d messages", s.next)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	partition := "p"
	if broken {
		partition = ""
	}
	m := sdk.Message{
		Payload:  fmt.Appendf(nil, `{"n":%d}`, s.next),
		Position: sdk.Position{Partition: partition, Offset: s.next},
	}
	s.next++
	return sdk.Batch{Messages: []sdk.Message{m}}, nil
}

func (s *echoSource) Close(context.Context) error { return nil }

func sink() sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "echo", Kind: sdk.KindSink, Version: "0.3.0",
			Summary: "Writes rows as JSON lines to a file.",
			Fields:  []sdk.FieldSpec{{Name: "path", Type: sdk.TypeString, Required: true, Doc: "The file."}},
		},
		NewSink: func() sdk.Sink { return &echoSink{} },
	}
}

type echoSink struct {
	f *os.File
}

func (s *echoSink) Open(_ context.Context, req sdk.SinkOpenRequest) error {
	var c struct {
		Path string `json:"path"`
	}
	if err := sdk.DecodeConfig(req.Config, &c); err != nil {
		return err
	}
	if c.Path == "" {
		return &sdk.ConfigError{Path: "path", Msg: "must not be empty"}
	}
	f, err := os.Create(c.Path)
	if err != nil {
		return err
	}
	s.f = f
	return nil
}

func (s *echoSink) Write(_ context.Context, rows sdk.Rows) error {
	if s.f == nil {
		return errors.New("write to a sink that is not open")
	}
	for _, r := range rows.Rows {
		obj := make(map[string]any, len(r))
		for i, c := range rows.Columns {
			obj[c] = r[i]
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		if _, err := s.f.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

func (s *echoSink) Close(context.Context) error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}
