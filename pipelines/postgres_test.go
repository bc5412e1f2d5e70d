package pipelines_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/runtime/checkpoint"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/exec"
	"github.com/flowctl/flowctl/runtime/plan"
)

// pgOrder is one row of the orders table the PostgreSQL examples read.
type pgOrder struct {
	ID, Store, Category, Status string
	Amount                      decimal.Decimal
	At                          time.Time
}

// pgDatabase connects to the test server and returns a DSN whose
// search_path is a fresh schema, dropped at the end of the test.
func pgDatabase(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	dsn := os.Getenv("FLOWCTL_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("FLOWCTL_TEST_POSTGRES is not set; .ci/run starts a server with scripts/ci-postgres.sh")
		}
		t.Skip(`no PostgreSQL: run eval "$(scripts/ci-postgres.sh)" first`)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("pipelines_%d", rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	if _, err := conn.Exec(ctx, "SET search_path TO "+schema); err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `CREATE TABLE orders (
		order_id text PRIMARY KEY, store_id text, category text, amount numeric(12,2),
		status text, customer_email text, order_time timestamptz NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, conn
}

// genOrders makes n orders from start on, a few minutes apart; about one
// in 20 has no status (the schema rejects it).
func genOrders(r *rand.Rand, prefix string, n int, start time.Time) []pgOrder {
	stores := []string{" s1", "S2 ", "s3"}
	cats := []string{"Books", "toys", "FOOD"}
	statuses := []string{"completed", "completed", "completed", "refunded", ""}
	var out []pgOrder
	for i := range n {
		out = append(out, pgOrder{
			ID: fmt.Sprintf("%s-%05d", prefix, i), Store: stores[r.IntN(3)], Category: cats[r.IntN(3)],
			Status: statuses[r.IntN(len(statuses))], Amount: decimal.New(int64(r.IntN(20000)-500), -2),
			At: start.Add(time.Duration(i)*7*time.Minute + time.Duration(r.IntN(300))*time.Second),
		})
	}
	return out
}

func insertOrders(t *testing.T, conn *pgx.Conn, orders []pgOrder) {
	t.Helper()
	for _, o := range orders {
		var status any = o.Status
		if o.Status == "" {
			status = nil
		}
		_, err := conn.Exec(context.Background(),
			`INSERT INTO orders (order_id, store_id, category, amount, status, order_time) VALUES ($1, $2, $3, $4, $5, $6)`,
			o.ID, o.Store, o.Category, o.Amount, status, o.At)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// revenueReference computes revenue per day, store and category of the
// completed orders with a positive amount whose time is in [from, to).
func revenueReference(orders []pgOrder, from, to time.Time) []string {
	type key struct{ day, store, cat string }
	sum := map[key]decimal.Decimal{}
	n := map[key]int{}
	for _, o := range orders {
		if o.Status != "completed" || !o.Amount.IsPositive() || o.At.Before(from) || !o.At.Before(to) {
			continue
		}
		k := key{o.At.UTC().Format("2006-01-02"), strings.ToUpper(strings.TrimSpace(o.Store)), strings.ToLower(o.Category)}
		sum[k] = sum[k].Add(o.Amount)
		n[k]++
	}
	var out []string
	for k, v := range sum {
		out = append(out, fmt.Sprintf("%s %s %s %s %d", k.day, k.store, k.cat, v.StringFixed(2), n[k]))
	}
	sort.Strings(out)
	return out
}

func revenueTable(t *testing.T, conn *pgx.Conn, table string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(
		`SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), store, category, revenue::numeric(14,2)::text, orders FROM %s`, table))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var day, store, cat, rev string
		var n int64
		if err := rows.Scan(&day, &store, &cat, &rev, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %d", day, store, cat, rev, n))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func runPostgresExample(t *testing.T, file, dsn string, sets ...string) exec.Summary {
	t.Helper()
	p, ds := config.LoadFileWith(file, config.Options{
		Sets: sets,
		LookupEnv: func(name string) (string, bool) {
			if name == "FLOWCTL_PG_DSN" {
				return dsn, true
			}
			return "", false
		},
	})
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	pl, ds := plan.Compile(p, newCatalog(t), "")
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	var log strings.Builder
	sum, err := exec.Run(context.Background(), pl, exec.Options{Stderr: &log, Checkpoints: checkpoint.NewDir(pl.CheckpointDir())})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	return sum
}

// TestPostgresDailyRevenue runs the nightly batch twice over one day: the
// table holds the reference revenue, and the rerun replaces its rows.
func TestPostgresDailyRevenue(t *testing.T) {
	dsn, conn := pgDatabase(t)
	day := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	orders := genOrders(rand.New(rand.NewPCG(1, 2)), "o", 600, day.Add(-20*time.Hour))
	insertOrders(t, conn, orders)
	want := revenueReference(orders, day, day.Add(24*time.Hour))
	out := t.TempDir()
	var bad int
	for _, o := range orders {
		if o.Status == "" && !o.At.Before(day) && o.At.Before(day.Add(24*time.Hour)) {
			bad++
		}
	}
	for run := range 2 {
		sum := runPostgresExample(t, "pg_daily_revenue.yaml", dsn, "dead_letter.config.path="+filepath.Join(out, "dead.jsonl"))
		if got := revenueTable(t, conn, "daily_revenue"); !cmp.Equal(got, want) {
			t.Fatalf("run %d: daily_revenue differs from the reference (-want +got):\n%s", run, cmp.Diff(want, got))
		}
		if sum.DeadLettered != int64(bad) {
			t.Errorf("run %d: dead-lettered %d, want %d (orders without a status)", run, sum.DeadLettered, bad)
		}
	}
}

// TestPostgresRevenueLive runs the micro-batch as two triggers, with
// orders committed late (placed before the first trigger's newest order)
// in between: the lookback reads them, the dedupe drops the rows read
// twice, and the upserted table equals the reference.
func TestPostgresRevenueLive(t *testing.T) {
	dsn, conn := pgDatabase(t)
	start := time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	first := genOrders(r, "a", 200, start)
	insertOrders(t, conn, first)
	ckpt := t.TempDir()
	sets := []string{
		"trigger={available_now: true}",
		"checkpoint.dir=" + ckpt,
		"dead_letter.config.path=" + filepath.Join(ckpt, "dead.jsonl"),
	}
	sum := runPostgresExample(t, "pg_revenue_live.yaml", dsn, sets...)
	if sum.Read != int64(len(first)) {
		t.Fatalf("first trigger read %d rows, want %d", sum.Read, len(first))
	}
	newest := first[len(first)-1].At
	late := genOrders(r, "late", 10, newest.Add(-8*time.Minute))[:1]
	for i := range 10 {
		o := genOrders(r, fmt.Sprintf("late%d", i), 1, newest.Add(-time.Duration(i+1)*40*time.Second))[0]
		late = append(late, o)
	}
	more := genOrders(r, "b", 50, newest.Add(time.Minute))
	insertOrders(t, conn, append(late, more...))
	sum = runPostgresExample(t, "pg_revenue_live.yaml", dsn, sets...)
	if sum.Duplicates == 0 {
		t.Error("the lookback re-read no rows; the test does not exercise the overlap")
	}
	all := append(append(first, late...), more...)
	want := revenueReference(all, start.Add(-48*time.Hour), start.Add(72*time.Hour))
	if got := revenueTable(t, conn, "revenue_live"); !cmp.Equal(got, want) {
		t.Fatalf("revenue_live differs from the reference (-want +got):\n%s", cmp.Diff(want, got))
	}
}
