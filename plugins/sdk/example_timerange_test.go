package sdk_test

import (
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// A source that can seek by event time names the config fields it takes
// a range in, so that `flowctl backfill` can give each slice of its range
// to a run of its own; a sink that keeps concurrent runs of a pipeline
// apart (by Settings.Instance) says so with Instances. Spec.Check makes
// sure the fields exist.
func ExampleTimeRange() {
	source := sdk.Spec{
		Name: "events", Kind: sdk.KindSource, Version: "0.1.0",
		Fields: []sdk.FieldSpec{
			{Name: "path", Type: sdk.TypeString, Required: true},
			{Name: "since", Type: sdk.TypeString, Doc: "Read events at or after this RFC 3339 time."},
			{Name: "until", Type: sdk.TypeString, Doc: "Read events before this RFC 3339 time."},
		},
		TimeRange: &sdk.TimeRange{From: "since", To: "until"},
	}
	fmt.Println(source.Check())

	source.TimeRange.To = "end"
	fmt.Println(source.Check())

	sink := sdk.Spec{Name: "lake", Kind: sdk.KindSink, Version: "0.1.0", Instances: true}
	fmt.Println(sink.Check())
	// Output:
	// <nil>
	// plugin events: TimeRange field "end" is not a string field of its config
	// <nil>
}
