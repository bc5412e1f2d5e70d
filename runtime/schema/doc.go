// Package schema reads record schemas (schemas/*.yaml) and decodes and
// checks records against them.
//
// # Schema files
//
// A schema file names the schema and declares its fields, in order:
//
//	name: payments.v1
//	fields:
//	  amount: decimal(10,2)
//	  channel: string?        # "?" marks an optional field (null or missing)
//	  device:                 # a nested object is a mapping of fields
//	    os: string
//	    version: int?
//	  tags: list<string>
//
// Types are string, int, float, bool, timestamp, duration, decimal(p,s)
// (1 <= p <= 38, 0 <= s <= p), list<T>, any (any value) and object (an
// object of any shape); a mapping declares an object's members. [Load]
// and [Parse] report every problem at once, each at the offending key or
// value.
//
// # Decoding
//
// A [Decoder] turns source messages into the slot values of a record. The
// source's format says how a message's payload is read:
//
// format json: the payload is one JSON object (RFC 8259; invalid UTF-8 in
// strings becomes U+FFFD; of repeated keys the last wins).
//
// With a schema, each schema field is looked up in the object. A missing
// or null required field is an error; a missing or null optional field
// is nil. Keys the schema does not declare are ignored (and not kept).
// Values convert by type:
//   - string: JSON strings only.
//   - int: JSON integers that fit in 64 bits (3, not 3.0 nor 3.5).
//   - float: any JSON number.
//   - bool: true or false.
//   - decimal(p,s): numbers and numeric strings ("12.50", "-1e3"), read
//     exactly (never through float64); a value with more than s digits
//     after the point or more than p-s before it is an error (leading and
//     trailing zeros do not count). The result has exponent -s.
//   - timestamp: RFC 3339 text with any offset, or epoch milliseconds as
//     a JSON integer (or as digits in a string); the result is in UTC.
//   - duration: Go duration text ("90s", "1h30m").
//   - list<T>: a JSON array, each element converted to T, as []any.
//   - nested object: a JSON object, as map[string]any holding exactly the
//     declared members (optional ones that are missing are nil); unknown
//     members are ignored.
//   - any: the value as in schemaless records; object: a JSON object as
//     in schemaless records.
//
// Without a schema, the keys of the object become slots of the decoder's
// [record.Dynamic] in first-seen order, and slots of the current layout
// that a record lacks are [record.Absent]. Integers (no fraction, no
// exponent) that fit int64 become int64, other numbers float64; strings,
// bools and null (nil) stay as they are; nested objects become
// map[string]any and arrays []any. At most [MaxDynamicFields] distinct
// top-level names are taken in.
//
// format csv: the message holds Fields, column name to text, made by the
// source from the header row. With a schema, each column converts from
// text: int (decimal digits), float, bool (true, false; also TRUE, True,
// FALSE, False), decimal(p,s) as above, timestamp (RFC 3339 or epoch
// milliseconds as digits), duration, string as is; list and object
// columns hold JSON text. An empty cell is null, an error for a required
// field. Without a schema, every value stays the string it is, empty
// included.
//
// format raw: the record has one field, value, holding the payload as a
// string. With a schema the payload converts to the type of the schema's
// value field as text does (as [Convert] does for strings).
//
// Messages with Fields (structured records from plugins such as the
// generator) are accepted in any format: with a schema each field
// converts by [Convert]; without one, values are kept, with Go integer
// types becoming int64, float32 float64, and other slices and maps []any
// and map[string]any.
//
// In every format a record that does not fit gives a [*DecodeError] that
// names the field path ("device.version", "tags[2]") and says what was
// wanted and what was found:
//
//	amount: want decimal(10,2), got string "abc"
//	missing required field "store_id"
//	invalid JSON at byte 17: invalid character '}' looking for beginning of value
//	not a JSON object
//
// Byte positions count from 1. Decoded values never alias the message's
// payload: strings are copied, so a source may reuse its buffers.
package schema
