package sdk_test

import (
	"context"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// ticks is a source of three messages.
type ticks struct{ n int64 }

func (s *ticks) Open(context.Context, sdk.OpenRequest) error { return nil }

func (s *ticks) Read(context.Context) (sdk.Batch, error) {
	if s.n == 3 {
		return sdk.Batch{}, sdk.ErrEndOfInput
	}
	s.n++
	return sdk.Batch{Messages: []sdk.Message{{
		Fields:   []sdk.Field{{Name: "n", Value: s.n}},
		Position: sdk.Position{Partition: "ticks", Offset: s.n},
	}}}, nil
}

func (s *ticks) Close(context.Context) error { return nil }

// A plugin executable's main function hands its plugins to Serve, which
// runs until the host that started the executable is done with it. Name
// the executable flowctl-plugin-NAME and put it in a pipeline's
// plugin_dirs, $FLOWCTL_PLUGIN_PATH or $PATH.
func ExampleServe() {
	sdk.Serve(sdk.Plugin{
		Spec:      sdk.Spec{Name: "ticks", Kind: sdk.KindSource, Version: "0.1.0", Summary: "Three ticks."},
		NewSource: func() sdk.Source { return &ticks{} },
	})
}
