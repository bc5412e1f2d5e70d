package schema

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowctl/flowctl/plugins/sdk"
)

// benchRecords makes n distinct JSON records of realistic shape and
// cardinality: unique ids and e-mails, tens of stores, a few categories
// and statuses, random amounts and times.
func orderRecords(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	cats := []string{"electronics", "grocery", "apparel", "home", "toys", "books", "garden", "beauty"}
	statuses := []string{"paid", "refunded", "cancelled", "pending"}
	base := time.Date(2026, 3, 17, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		email := fmt.Sprintf(`"customer.%06d@example.com"`, rng.IntN(1_000_000))
		if rng.IntN(10) == 0 {
			email = "null"
		}
		ts := base.Add(time.Duration(rng.Int64N(int64(24 * time.Hour)))).Truncate(time.Millisecond)
		out[i] = fmt.Appendf(nil, `{"order_id":"ord-%010d","store_id":"store-%03d","category":%q,"amount":%d.%02d,"status":%q,"customer_email":%s,"order_time":%q}`,
			rng.Int64N(1e10), rng.IntN(60), cats[rng.IntN(len(cats))], rng.IntN(2000), rng.IntN(100),
			statuses[rng.IntN(len(statuses))], email, ts.Format(time.RFC3339Nano))
	}
	return out
}

func eventRecords(n int) [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	countries := []string{"DE", "FR", "US", "GB", "JP", "BR", "IN", "NL"}
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":%d,"user":"user-%07d","session":"%016x","country":%q,"price":%.2f,"qty":%d,"ts":%d,"page":"/products/%d","score":%g,"ok":%t}`,
			rng.Int64N(1e12), rng.IntN(10_000_000), rng.Uint64(), countries[rng.IntN(len(countries))],
			rng.Float64()*500, 1+rng.IntN(9), 1_773_705_600_000+rng.Int64N(86_400_000), rng.IntN(100_000),
			rng.Float64(), rng.IntN(2) == 0)
	}
	return out
}

func benchDecode(b *testing.B, s *Schema, recs [][]byte) {
	d, err := NewDecoder(s, "json")
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	b.SetBytes(int64(size / len(recs)))
	var m sdk.Message
	var dst []any
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Payload = recs[i%len(recs)]
		if dst, err = d.Decode(&m, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDecodeSchema(b *testing.B) {
	s, ds := Load("../../schemas/orders.v1.yaml")
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	benchDecode(b, s, orderRecords(4096))
}

func BenchmarkDecodeSchemaless(b *testing.B) {
	benchDecode(b, nil, eventRecords(4096))
}

func BenchmarkDecodeSchemalessOrders(b *testing.B) {
	benchDecode(b, nil, orderRecords(4096))
}

func BenchmarkDecodeSchemaEvents(b *testing.B) {
	s, ds := Parse("events.yaml", []byte(`name: events.v1
fields:
  id: int
  user: string
  session: string
  country: string
  price: float
  qty: int
  ts: timestamp
  page: string
  score: float
  ok: bool
`))
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	benchDecode(b, s, eventRecords(4096))
}

// BenchmarkDecodeCSV decodes order rows as the file source hands them
// over: column name to text.
func BenchmarkDecodeCSV(b *testing.B) {
	s, ds := Load("../../schemas/orders.v1.yaml")
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	d, err := NewDecoder(s, "csv")
	if err != nil {
		b.Fatal(err)
	}
	names := s.Names()
	rng := rand.New(rand.NewPCG(5, 6))
	rows := make([][]sdk.Field, 4096)
	for i := range rows {
		cells := []string{fmt.Sprintf("ord-%010d", rng.Int64N(1e10)), fmt.Sprintf("store-%03d", rng.IntN(60)),
			[]string{"grocery", "toys", "home"}[rng.IntN(3)], fmt.Sprintf("%d.%02d", rng.IntN(2000), rng.IntN(100)),
			[]string{"paid", "refunded"}[rng.IntN(2)], fmt.Sprintf("c%06d@example.com", rng.IntN(1e6)),
			time.UnixMilli(1_773_705_600_000 + rng.Int64N(86_400_000)).UTC().Format(time.RFC3339Nano)}
		for j, c := range cells {
			rows[i] = append(rows[i], sdk.Field{Name: names[j], Value: c})
		}
	}
	var m sdk.Message
	var dst []any
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Fields = rows[i%len(rows)]
		if dst, err = d.Decode(&m, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
