package schema_test

import (
	"fmt"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/schema"
)

func ExampleDecoder() {
	s, ds := schema.Parse("payments.v1.yaml", []byte(`name: payments.v1
fields:
  amount: decimal(10,2)
  store_id: string
  channel: string?
  event_time: timestamp
`))
	if ds.HasErrors() {
		fmt.Println(ds.Err())
		return
	}
	d, err := schema.NewDecoder(s, "json")
	if err != nil {
		fmt.Println(err)
		return
	}
	var values []any
	for _, payload := range []string{
		`{"amount": 12.5, "store_id": "s-1", "event_time": "2026-03-17T23:58:00+01:00", "extra": true}`,
		`{"amount": "0.10", "store_id": "s-2", "channel": "web", "event_time": 1773791880000}`,
		`{"amount": "abc", "store_id": "s-1", "event_time": 0}`,
		`{"amount": 1.005, "store_id": "s-1", "event_time": 0}`,
		`{"amount": 1, "event_time": 0}`,
		`{"amount": 1,}`,
	} {
		values, err = d.Decode(&sdk.Message{Payload: []byte(payload)}, values)
		if err != nil {
			fmt.Println("rejected:", err)
			continue
		}
		fmt.Println(d.Layout().Names, values)
	}
	// Output:
	// [amount store_id channel event_time] [12.5 s-1 <nil> 2026-03-17 22:58:00 +0000 UTC]
	// [amount store_id channel event_time] [0.1 s-2 web 2026-03-17 23:58:00 +0000 UTC]
	// rejected: amount: want decimal(10,2), got string "abc"
	// rejected: amount: want decimal(10,2), got number 1.005 (more than 2 digits after the point)
	// rejected: missing required field "store_id"
	// rejected: invalid JSON at byte 14: invalid character '}' looking for beginning of object key string
}

func ExampleDecoder_schemaless() {
	d, err := schema.NewDecoder(nil, "json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, payload := range []string{`{"id": 1, "price": 9.5}`, `{"user": "ann", "id": 2}`} {
		values, err := d.Decode(&sdk.Message{Payload: []byte(payload)}, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(d.Layout().Names, values)
	}
	// Output:
	// [id price] [1 9.5]
	// [id price user] [2 {} ann]
}

func ExampleParse() {
	_, ds := schema.Parse("orders.v1.yaml", []byte(`name: orders.v1
fields:
  order_id: strng
  amount: decimal(12,x)
  order_id: string
`))
	for _, d := range ds {
		fmt.Println(d)
	}
	// Output:
	// orders.v1.yaml:3:13: fields.order_id: unknown type "strng" (did you mean "string"?)
	// orders.v1.yaml:4:22: fields.amount: want decimal scale (a number), got "x)"
	// orders.v1.yaml:5:3: fields.order_id: duplicate field "order_id" (first at line 3)
}

func ExampleParseType() {
	for _, s := range []string{"decimal(10, 2)?", "list< list<int> >", "integer"} {
		t, err := schema.ParseType(s)
		fmt.Println(t, err)
	}
	// Output:
	// decimal(10,2)? <nil>
	// list<list<int>> <nil>
	// any unknown type "integer" (did you mean "int"?)
}
