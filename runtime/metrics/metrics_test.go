package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flowctl/flowctl/runtime/exec"
)

// TestServe checks that the totals given to Update are what Prometheus
// scrapes, over a real listener.
func TestServe(t *testing.T) {
	r := New("orders")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := r.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if body := scrape(); !strings.Contains(body, `flowctl_records_read_total{pipeline="orders"} 0`) {
		t.Errorf("before any update:\n%s", body)
	}
	wm := time.Date(2026, 3, 17, 10, 0, 0, 0, time.UTC)
	r.Update(exec.Summary{Read: 42, Written: 7, DeadLettered: 3, Late: 2, Triggers: 5, Watermark: wm.UnixNano()})
	body := scrape()
	for _, want := range []string{
		`flowctl_records_read_total{pipeline="orders"} 42`,
		`flowctl_rows_written_total{pipeline="orders"} 7`,
		`flowctl_records_dead_lettered_total{pipeline="orders"} 3`,
		`flowctl_records_late_total{pipeline="orders"} 2`,
		`flowctl_triggers_total{pipeline="orders"} 5`,
		`flowctl_watermark_seconds{pipeline="orders"} 1.7737416e+09`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
}
