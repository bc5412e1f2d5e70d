package schema

// plan is a type prepared for decoding JSON.
type plan struct {
	t    *Type
	elem *plan    // List
	obj  *objPlan // Object with declared fields
}

func newPlan(t *Type) *plan {
	p := &plan{t: t}
	switch t.Kind {
	case List:
		if t.Elem != nil {
			p.elem = newPlan(t.Elem)
		} else {
			p.elem = &plan{t: &Type{Kind: Any, Optional: true}}
		}
	case Object:
		if len(t.Fields) > 0 {
			p.obj = newObjPlan(t.Fields)
		}
	}
	return p
}

// objPlan looks up the members of an object with declared fields.
type objPlan struct {
	fields []planField
	index  map[string]int
	memo   []int32  // field of the i-th key of the previous object, or -1
	stamp  []uint32 // stamp[k] == gen: field k was set in the current object
	gen    uint32
}

type planField struct {
	name     string
	plan     *plan
	optional bool
}

func newObjPlan(fields []Field) *objPlan {
	op := &objPlan{
		fields: make([]planField, len(fields)),
		index:  make(map[string]int, len(fields)),
		memo:   make([]int32, min(2*len(fields)+4, 64)),
		stamp:  make([]uint32, len(fields)),
	}
	for i := range fields {
		f := &fields[i]
		op.fields[i] = planField{name: f.Name, plan: newPlan(&f.Type), optional: f.Type.Optional}
		op.index[f.Name] = i
	}
	for i := range op.memo {
		op.memo[i] = -1
	}
	return op
}

// next starts a new object and returns its stamp.
func (op *objPlan) next() uint32 {
	op.gen++
	if op.gen == 0 {
		clear(op.stamp)
		op.gen = 1
	}
	return op.gen
}

// lookup returns the field of the i-th key of an object, or -1.
func (op *objPlan) lookup(i int, key []byte) int {
	if i < len(op.memo) {
		if k := op.memo[i]; k >= 0 && op.fields[k].name == string(key) {
			return int(k)
		}
	}
	k, ok := op.index[string(key)]
	if !ok {
		k = -1
	}
	if i < len(op.memo) {
		op.memo[i] = int32(k)
	}
	return k
}

func (op *objPlan) lookupString(i int, name string) int {
	if i < len(op.memo) {
		if k := op.memo[i]; k >= 0 && op.fields[k].name == name {
			return int(k)
		}
	}
	k, ok := op.index[name]
	if !ok {
		k = -1
	}
	if i < len(op.memo) {
		op.memo[i] = int32(k)
	}
	return k
}

// missing reports the first required field not set in the current
// object, which must be filled with nil for the optional ones.
func (op *objPlan) missing(gen uint32) error {
	for k := range op.fields {
		if op.stamp[k] != gen && !op.fields[k].optional {
			return &DecodeError{Field: op.fields[k].name, Msg: msgMissing}
		}
	}
	return nil
}

// valueCache keeps the boxed values of one slot that recur (a store id, a
// status, a price), so that decoding them again allocates nothing. It
// turns itself off for good when most lookups miss.
type valueCache struct {
	m       map[string]any
	lookups uint32
	hits    uint32
	off     bool
}

const (
	cacheEntries = 512
	cacheKeyMax  = 64
	cacheWindow  = 1024
)

func (c *valueCache) get(b []byte) (any, bool) {
	if c == nil || c.off {
		return nil, false
	}
	v, ok := c.m[string(b)]
	c.count(ok)
	return v, ok
}

func (c *valueCache) getString(s string) (any, bool) {
	if c == nil || c.off {
		return nil, false
	}
	v, ok := c.m[s]
	c.count(ok)
	return v, ok
}

func (c *valueCache) count(hit bool) {
	c.lookups++
	if hit {
		c.hits++
	}
	if c.lookups == cacheWindow {
		if c.hits < cacheWindow/2 {
			c.off = true
			c.m = nil
		}
		c.lookups, c.hits = 0, 0
	}
}

func (c *valueCache) put(k string, v any) {
	if c == nil || c.off || len(k) > cacheKeyMax || len(c.m) >= cacheEntries {
		return
	}
	if c.m == nil {
		c.m = make(map[string]any)
	}
	c.m[k] = v
}

// str returns b as a boxed string, from the cache when it holds it.
func (c *valueCache) str(b []byte) any {
	if v, ok := c.get(b); ok {
		return v
	}
	s := string(b)
	var v any = s
	c.put(s, v)
	return v
}
