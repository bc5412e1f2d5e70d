// Package graph turns a loaded pipeline into a directed acyclic graph of
// stages (sources, transforms and sinks, connected by their `from:` lists)
// and checks it: every reference resolves, nothing reads from a sink,
// there are no cycles, every stage reaches a sink, and no window keeps an
// unreasonable number of windows open.
package graph

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/diag"
)

// Kind is the kind of a stage.
type Kind int

// Stage kinds.
const (
	SourceNode Kind = iota
	TransformNode
	SinkNode
)

// String is "source", "transform" or "sink".
func (k Kind) String() string {
	switch k {
	case SourceNode:
		return "source"
	case TransformNode:
		return "transform"
	case SinkNode:
		return "sink"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Node is one stage of the pipeline.
type Node struct {
	Kind      Kind
	Name      string
	Pos       diag.Pos          // the stage's entry in the file
	Source    *config.Source    // set for SourceNode
	Transform *config.Transform // set for TransformNode
	Sink      *config.Sink      // set for SinkNode
	Inputs    []*Node           // in the order of the `from:` list
	Outputs   []*Node           // in file order

	order int    // rank in file order
	path  string // "transforms[2]", for diagnostics
}

// Graph is a pipeline's stages in topological order.
type Graph struct {
	Pipeline *config.Pipeline
	// Nodes lists every stage after all its inputs, ties broken by file
	// order. Stages on a cycle, or downstream of one, cannot be ordered;
	// they come last, in file order.
	Nodes []*Node

	byName map[string]*Node
}

// Node returns the stage called name, or nil.
func (g *Graph) Node(name string) *Node { return g.byName[name] }

// Sources returns the source stages upstream of n (n itself if it is a
// source), in the order of g.Nodes.
func (g *Graph) Sources(n *Node) []*Node {
	seen := map[*Node]bool{}
	var walk func(*Node)
	walk = func(m *Node) {
		if seen[m] {
			return
		}
		seen[m] = true
		for _, in := range m.Inputs {
			walk(in)
		}
	}
	walk(n)
	var out []*Node
	for _, m := range g.Nodes {
		if seen[m] && m.Kind == SourceNode {
			out = append(out, m)
		}
	}
	return out
}

// maxOpenWindows is the number of windows per key that the lateness of a
// windowed aggregation may keep open before Build warns.
const maxOpenWindows = 50

// Build makes the graph of p and checks it. Every problem is reported,
// positioned at the `from:` entry or the stage it is about. The graph is
// returned even when there are errors, so that it can still be drawn;
// references that do not resolve are left out of it.
func Build(p *config.Pipeline) (*Graph, diag.Diagnostics) {
	g := &Graph{Pipeline: p, byName: map[string]*Node{}}
	if p == nil {
		return g, nil
	}
	var ds diag.Diagnostics
	b := &builder{g: g, ds: &ds, hints: map[*Node][]*Node{}}
	b.addNodes()
	b.connect()
	cyclic := b.cycles()
	b.sort(cyclic)
	b.reachSinks()
	b.windowState()
	ds.Sort()
	return g, ds
}

type builder struct {
	g     *Graph
	ds    *diag.Diagnostics
	all   []*Node           // in file order
	hints map[*Node][]*Node // probable inputs of unresolved references
}

func (b *builder) addNodes() {
	p := b.g.Pipeline
	for i, s := range p.Sources {
		b.add(&Node{Kind: SourceNode, Name: s.Name.Value, Pos: s.Pos, Source: s, path: fmt.Sprintf("sources[%d]", i)})
	}
	for i, t := range p.Transforms {
		b.add(&Node{Kind: TransformNode, Name: t.Name.Value, Pos: t.Pos, Transform: t, path: fmt.Sprintf("transforms[%d]", i)})
	}
	for i, s := range p.Sinks {
		b.add(&Node{Kind: SinkNode, Name: s.Name.Value, Pos: s.Pos, Sink: s, path: fmt.Sprintf("sinks[%d]", i)})
	}
	// File order: by position, sections in their usual order for ties.
	sort.SliceStable(b.all, func(i, j int) bool { return before(b.all[i].Pos, b.all[j].Pos) })
	for i, n := range b.all {
		n.order = i
	}
}

func (b *builder) add(n *Node) {
	b.all = append(b.all, n)
	if _, dup := b.g.byName[n.Name]; !dup && n.Name != "" {
		b.g.byName[n.Name] = n // a duplicate is reported by config.Load
	}
}

// from is the `from:` list of n.
func from(n *Node) []config.String {
	switch n.Kind {
	case TransformNode:
		return n.Transform.From
	case SinkNode:
		return n.Sink.From
	}
	return nil
}

// connect resolves the `from:` lists into edges.
func (b *builder) connect() {
	names := make([]string, 0, len(b.all))
	for _, n := range b.all {
		if n.Kind != SinkNode && n.Name != "" {
			names = append(names, n.Name)
		}
	}
	for _, n := range b.all {
		for j, ref := range from(n) {
			if ref.Value == "" {
				continue // reported by config.Load
			}
			path := fmt.Sprintf("%s.from[%d]", n.path, j)
			in := b.g.byName[ref.Value]
			switch {
			case in == nil:
				hint := ""
				if c, ok := diag.Closest(ref.Value, names); ok && ref.Env == "" {
					hint = fmt.Sprintf(" (did you mean %q?)", c)
					b.hints[n] = append(b.hints[n], b.g.byName[c])
				}
				b.ds.Add(ref.Pos, path, "unknown stage %s%s", show(ref), hint)
			case in.Kind == SinkNode:
				b.ds.Add(ref.Pos, path, "%s is a sink; only sources and transforms can be read from", show(ref))
			case contains(n.Inputs, in):
				b.ds.Add(ref.Pos, path, "%s is listed twice", show(ref))
			default:
				n.Inputs = append(n.Inputs, in)
				in.Outputs = append(in.Outputs, n)
			}
		}
	}
}

// cycles reports each cycle once and returns the nodes on cycles.
func (b *builder) cycles() map[*Node]bool {
	cyclic := map[*Node]bool{}
	for _, scc := range stronglyConnected(b.all) {
		if len(scc) == 1 && !contains(scc[0].Inputs, scc[0]) {
			continue
		}
		in := map[*Node]bool{}
		start := scc[0]
		for _, n := range scc {
			in[n] = true
			cyclic[n] = true
			if n.order < start.order {
				start = n
			}
		}
		cycle := shortestCycle(start, in)
		names := make([]string, len(cycle)+1)
		for i, n := range cycle {
			names[i] = n.Name
		}
		names[len(cycle)] = start.Name
		// Report at start's `from:` entry naming the stage before it.
		prev := cycle[len(cycle)-1]
		pos, path := start.Pos, start.path
		for j, ref := range from(start) {
			if ref.Value == prev.Name {
				pos, path = ref.Pos, fmt.Sprintf("%s.from[%d]", start.path, j)
				break
			}
		}
		b.ds.Add(pos, path, "cycle: %s", strings.Join(names, " -> "))
	}
	return cyclic
}

// shortestCycle returns the shortest path start -> ... -> x such that x
// feeds start, following outputs inside the component in.
func shortestCycle(start *Node, in map[*Node]bool) []*Node {
	parent := map[*Node]*Node{}
	queue := []*Node{start}
	seen := map[*Node]bool{start: true}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, out := range n.Outputs {
			if out == start {
				var path []*Node
				for m := n; m != nil; m = parent[m] {
					path = append(path, m)
				}
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path
			}
			if in[out] && !seen[out] {
				seen[out] = true
				parent[out] = n
				queue = append(queue, out)
			}
		}
	}
	return []*Node{start}
}

// stronglyConnected returns the strongly connected components of the
// graph (Tarjan's algorithm, iterative so that deep graphs cannot exhaust
// the stack).
func stronglyConnected(nodes []*Node) [][]*Node {
	index := map[*Node]int{}
	low := map[*Node]int{}
	onStack := map[*Node]bool{}
	var stack []*Node
	var out [][]*Node
	type frame struct {
		n *Node
		i int // next output to visit
	}
	next := 0
	for _, root := range nodes {
		if _, ok := index[root]; ok {
			continue
		}
		calls := []frame{{n: root}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			if f.i < len(f.n.Outputs) {
				w := f.n.Outputs[f.i]
				f.i++
				if _, ok := index[w]; !ok {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{n: w})
				} else if onStack[w] {
					low[f.n] = min(low[f.n], index[w])
				}
				continue
			}
			v := f.n
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				parent := calls[len(calls)-1].n
				low[parent] = min(low[parent], low[v])
			}
			if low[v] == index[v] {
				var scc []*Node
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					scc = append(scc, w)
					if w == v {
						break
					}
				}
				out = append(out, scc)
			}
		}
	}
	return out
}

// sort fills g.Nodes: Kahn's algorithm, taking among the ready nodes the
// first in file order; nodes that never become ready (on or after a
// cycle) follow in file order.
func (b *builder) sort(cyclic map[*Node]bool) {
	pending := make(map[*Node]int, len(b.all))
	ready := &nodeHeap{}
	for _, n := range b.all {
		pending[n] = len(n.Inputs)
		if len(n.Inputs) == 0 {
			heap.Push(ready, n)
		}
	}
	done := make(map[*Node]bool, len(b.all))
	for ready.Len() > 0 {
		n := heap.Pop(ready).(*Node)
		done[n] = true
		b.g.Nodes = append(b.g.Nodes, n)
		for _, out := range n.Outputs {
			if pending[out]--; pending[out] == 0 {
				heap.Push(ready, out)
			}
		}
	}
	for _, n := range b.all {
		if !done[n] {
			b.g.Nodes = append(b.g.Nodes, n)
		}
	}
}

// nodeHeap orders nodes by file order.
type nodeHeap []*Node

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].order < h[j].order }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(*Node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

// reachSinks reports sources and transforms whose output reaches no sink.
// A reference that did not resolve but has a likely meaning counts as
// that edge here, so that a typo is reported once, not twice.
func (b *builder) reachSinks() {
	reached := map[*Node]bool{}
	var walk func(*Node)
	walk = func(n *Node) {
		if reached[n] {
			return
		}
		reached[n] = true
		for _, in := range n.Inputs {
			walk(in)
		}
		for _, in := range b.hints[n] {
			walk(in)
		}
	}
	for _, n := range b.all {
		if n.Kind == SinkNode {
			walk(n)
		}
	}
	for _, n := range b.all {
		if !reached[n] && n.Name != "" {
			b.ds.Add(n.Pos, n.path, "%s %q reaches no sink", n.Kind, n.Name)
		}
	}
}

// windowState warns about windowed aggregations whose lateness keeps many
// windows open per key: state grows with (source lateness + allowed
// lateness) / window period.
func (b *builder) windowState() {
	for _, n := range b.g.Nodes {
		t := n.Transform
		if t == nil || t.Window == nil || len(t.Aggregate) == 0 {
			continue
		}
		var period time.Duration
		switch t.Window.Kind {
		case config.Tumbling:
			period = t.Window.Size.Value
		case config.Sliding:
			period = t.Window.Slide.Value
		}
		if period <= 0 {
			continue
		}
		var lateness time.Duration
		for _, s := range b.g.Sources(n) {
			lateness = max(lateness, s.Source.Watermark.Lateness.Value)
		}
		lateness += t.AllowedLateness.Value
		if open := lateness / period; open >= maxOpenWindows {
			b.ds.Warn(t.Window.Pos, n.path+".window", "lateness %s on %s windows keeps %d windows open per key", lateness, period, open)
		}
	}
}

func contains(list []*Node, n *Node) bool {
	for _, m := range list {
		if m == n {
			return true
		}
	}
	return false
}

// show renders a name for a message, hiding a value from the environment.
func show(s config.String) string {
	if s.Env != "" {
		return "(from " + s.Env + ")"
	}
	return fmt.Sprintf("%q", s.Value)
}

func before(a, b diag.Pos) bool {
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Col < b.Col
}
