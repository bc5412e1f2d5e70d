package generate_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/plugins/sources/generate"
)

// Three events on two partitions, a second apart in event time, with a
// skewed user id. The same seed gives the same events on every run.
func Example() {
	src := generate.Plugin().NewSource()
	config := `{
		"count": 3, "seed": 7, "partitions": 2, "interval": "1s",
		"fields": {"n": "i * 10", "user": "sprintf(\"u%d\", zipf(100, 1.2))"}
	}`
	ctx := context.Background()
	if err := src.Open(ctx, sdk.OpenRequest{Config: []byte(config)}); err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close(ctx)
	for {
		b, err := src.Read(ctx)
		for _, m := range b.Messages {
			fmt.Println(m.Position, sdk.FormatTime(m.Time), m.Fields)
		}
		if errors.Is(err, sdk.ErrEndOfInput) {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	// Output:
	// generate-0@0 2026-01-01T00:00:00Z [{n 0} {user u4}]
	// generate-1@1 2026-01-01T00:00:01Z [{n 10} {user u73}]
	// generate-0@2 2026-01-01T00:00:02Z [{n 20} {user u4}]
}
