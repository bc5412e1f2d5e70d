package sdk

import (
	"strconv"
	"time"
)

// Values exchanged with plugins are Go values of these types:
//
//	nil                 null
//	bool
//	int64
//	float64
//	string
//	[]byte
//	time.Time           timestamps (UTC)
//	time.Duration
//	decimal.Decimal     github.com/shopspring/decimal, exact decimals
//	[]any               lists
//	map[string]any      nested objects
//
// A field that is absent from a record is nil, or Absent in the rows of
// schemaless records, where a field some records have and others lack is
// left out rather than written as null.

type absent struct{}

// Absent marks a field a row does not have, as opposed to a null. Sinks
// leave such fields out (or write an empty cell where every column must be
// present).
var Absent any = absent{}

// Position says where a message came from, precisely enough to resume after
// it and to show a user where a bad record is.
type Position struct {
	// Partition names an independently ordered stream within the source: a
	// file path, "topic/3", a table. Watermarks are kept per partition.
	Partition string
	// Offset is where reading resumes after this message: a byte offset, a
	// Kafka offset, a cursor value.
	Offset int64
	// Line is the 1-based line of the record where that means something
	// (text files), 0 otherwise.
	Line int64
}

// String renders the position for people: "path:17" or "topic/3@1042".
func (p Position) String() string {
	if p.Line > 0 {
		return p.Partition + ":" + strconv.FormatInt(p.Line, 10)
	}
	return p.Partition + "@" + strconv.FormatInt(p.Offset, 10)
}

// Field is one named value of a structured message.
type Field struct {
	Name  string
	Value any
}

// Message is one record read from a source. Exactly one of Payload and
// Fields is set: Payload holds bytes that the host decodes with the
// source's `format` (json, csv, raw); Fields holds an already structured
// record, in order.
//
// A source that meets a record it cannot split or parse (a CSV row with the
// wrong number of fields) sets Reject to the reason and Payload to the raw
// record: the host dead-letters it with that reason and reads on.
type Message struct {
	Payload  []byte
	Fields   []Field
	Reject   string
	Meta     []Field   // metadata visible to expressions as meta.NAME (headers, keys)
	Time     time.Time // time the source attaches (broker timestamp); zero if none
	Position Position
}

// Batch is what one Source.Read returns. Messages within a partition are in
// source order.
type Batch struct {
	Messages []Message
	// CaughtUp says the source has now delivered everything available and
	// the next Read would wait for new data (a followed file at its end, a
	// Kafka partition at its high watermark, a paced generator ahead of
	// its rate). A micro-batch trigger reads until every source is caught
	// up. Sources that cannot tell leave it false; bounded sources end
	// with ErrEndOfInput instead.
	CaughtUp bool
	// Partitions lists partitions the source reads before they deliver a
	// message (a Kafka topic's partitions, known at Open), once, in the
	// first batch after it learns of them. Until such a partition
	// delivers a message, or is silent for the pipeline's idle_timeout,
	// it holds the watermark back, so that its records are not late
	// because the other partitions were read first. Sources whose
	// partitions appear with their messages (files) leave it empty.
	Partitions []string
}

// Rows is a batch of output rows sharing one column layout: every row has
// len(Columns) values, in column order.
type Rows struct {
	Columns []string
	Rows    [][]any
}
