package sdk_test

import (
	"fmt"
	"testing"

	"github.com/flowctl/flowctl/plugins/sdk"
)

func TestSpecCheckBackfill(t *testing.T) {
	t.Parallel()
	fields := []sdk.FieldSpec{
		{Name: "from", Type: sdk.TypeString},
		{Name: "to", Type: sdk.TypeString},
		{Name: "limit", Type: sdk.TypeInt},
	}
	for _, tc := range []struct {
		name string
		spec sdk.Spec
		want string
	}{
		{"a source's range", sdk.Spec{Name: "s", Kind: sdk.KindSource, Fields: fields, TimeRange: &sdk.TimeRange{From: "from", To: "to"}}, "<nil>"},
		{"a sink's instances", sdk.Spec{Name: "k", Kind: sdk.KindSink, Instances: true}, "<nil>"},
		{"an unknown field", sdk.Spec{Name: "s", Kind: sdk.KindSource, Fields: fields, TimeRange: &sdk.TimeRange{From: "start", To: "to"}},
			`plugin s: TimeRange field "start" is not a string field of its config`},
		{"a field that is not a string", sdk.Spec{Name: "s", Kind: sdk.KindSource, Fields: fields, TimeRange: &sdk.TimeRange{From: "from", To: "limit"}},
			`plugin s: TimeRange field "limit" is not a string field of its config`},
		{"one field for both", sdk.Spec{Name: "s", Kind: sdk.KindSource, Fields: fields, TimeRange: &sdk.TimeRange{From: "from", To: "from"}},
			`plugin s: TimeRange names "from" for both bounds`},
		{"a sink's range", sdk.Spec{Name: "k", Kind: sdk.KindSink, Fields: fields, TimeRange: &sdk.TimeRange{From: "from", To: "to"}},
			"plugin k: TimeRange is for sources, not a sink"},
		{"a source's instances", sdk.Spec{Name: "s", Kind: sdk.KindSource, Instances: true},
			"plugin s: Instances is for sinks, not a source"},
	} {
		if got := fmt.Sprint(tc.spec.Check()); got != tc.want {
			t.Errorf("%s: Check() = %s, want %s", tc.name, got, tc.want)
		}
	}
}
