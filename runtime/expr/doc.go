// Package expr compiles and evaluates the expressions of a pipeline file
// (`filter`, `map` values, a source's `event_time` and the arguments of
// aggregates) with github.com/expr-lang/expr.
//
// # Environments
//
// An Env says which fields an expression may read. NewEnv makes a typed
// env from a record schema: expressions are type-checked when the
// pipeline is validated, so `amount > "x"` or a misspelt field name is a
// positioned error before anything runs. DynamicEnv makes an env for a
// schemaless source: any name is allowed, typed as unknown, and looked up
// in the source's growing layout at run time (a name not seen yet is
// null).
//
// Schema types map to expr types as follows: string → string, int →
// int64, float → float64, bool → bool, timestamp → time.Time (UTC),
// duration → time.Duration, decimal(p,s) → decimal.Decimal, list<T> →
// list of T, and a nested object → a map whose members are typed too.
//
// # Errors and positions
//
// Compile errors are diag.Diagnostics positioned in the pipeline file:
// expr's positions inside the expression text are mapped back through
// config.Expr.Lines, so they are exact for plain and quoted scalars and
// literal (|) blocks; folded (>) blocks report the node's start. Messages
// name types as schemas do (decimal, timestamp, int), and unknown names,
// fields and functions get a did-you-mean hint:
//
//	p.yaml:7:20: invalid operation: > (mismatched types decimal and string)
//	p.yaml:7:13: unknown name "amout" (did you mean "amount"?)
//
// Evaluation errors (null in arithmetic, division by zero, text that
// parse_time cannot read) are *EvalError: the record is at fault, not the
// pipeline, and the caller dead-letters it.
//
// # Evaluation and nulls
//
// A Program reads record slots into a reused map holding only the fields
// the expression refers to, and runs expr's VM; it allocates nothing
// beyond what expr itself does. Results use the runtime's value
// representation: integers are int64 and floats float64 whatever expr
// computed them as. A missing field (record.Absent) reads as null.
//
// null == null is true and null == "x" false; arithmetic and ordering
// with null (null + 1, null > 1) are evaluation errors. Library functions
// return null when a value argument is null, except coalesce and concat,
// which skip nulls, and starts_with and ends_with, which give false. A
// filter that gives null is an evaluation error.
//
// # Decimals
//
// The operators + - * / % and == != < <= > >= work between a decimal and
// a decimal, an int or a float, and unary minus on a decimal; arithmetic
// gives a decimal, computed exactly (division to 16 decimal places).
// Decimal sums and averages are the aggregate layer's business.
//
// # Functions
//
// Besides expr's operators (including in, contains, startsWith, endsWith,
// matches, ?: and ??) and its builtins, expressions may call:
//
//	| function                                          | result          | notes                                                                                                   |
//	| ------------------------------------------------- | --------------- | ------------------------------------------------------------------------------------------------------- |
//	| `parse_time(s)`                                   | timestamp       | RFC 3339, fraction optional; converted to UTC                                                           |
//	| `parse_time(s, layout)`                           | timestamp       | Go layout, e.g. `"02/01/2006 15:04"`; a layout without a zone reads UTC                                 |
//	| `format_time(t, layout)`                          | string          | Go layout, in UTC                                                                                       |
//	| `from_unix_ms(n)`                                 | timestamp       | epoch milliseconds, int or float                                                                        |
//	| `unix_ms(t)`                                      | int             | epoch milliseconds                                                                                      |
//	| `year(t)` `month(t)` `day(t)`                     | int             | in UTC; month 1 to 12                                                                                   |
//	| `hour(t)` `minute(t)` `second(t)`                 | int             | in UTC                                                                                                  |
//	| `weekday(t)`                                      | int             | 0 = Sunday to 6 = Saturday                                                                              |
//	| `date(t)`                                         | string          | `"2026-03-17"`, in UTC                                                                                  |
//	| `truncate_time(t, d)`                             | timestamp       | start of the d-long period holding t, aligned to the Unix epoch like windows; d is `duration("1h")` or `"1h"` |
//	| `starts_with(s, prefix)` `ends_with(s, suffix)`   | bool            | false when s is null                                                                                    |
//	| `replace(s, old, new)`                            | string          | replaces every occurrence                                                                               |
//	| `substr(s, start, len)`                           | string          | in runes, start 0-based; clamped to the end of s                                                        |
//	| `concat(a, b, ...)`                               | string or list  | joins strings, formatting other values as to_string does and skipping nulls; or concatenates lists      |
//	| `len(x)`                                          | int             | runes of a string, items of a list or an object                                                         |
//	| `coalesce(a, b, ...)`                             | first non-null  | its type is the arguments' common type                                                                  |
//	| `to_int(x)`                                       | int             | from a number (truncated toward zero), decimal, numeric text or bool                                    |
//	| `to_float(x)`                                     | float           | from a number, decimal, numeric text or bool                                                            |
//	| `to_string(x)`                                    | string          | timestamps as RFC 3339 in UTC, durations as `1h30m0s`, lists and objects as JSON                        |
//	| `to_decimal(x)`                                   | decimal         | from a number, a decimal or numeric text                                                                |
//	| `upper` `lower` `trim` `trimPrefix` `trimSuffix`  | string          | expr builtins, as are `split` `splitAfter` `repeat` `join` `indexOf` `lastIndexOf` `hasPrefix` `hasSuffix` |
//	| `abs` `ceil` `floor` `round` `max` `min`          | number          | expr builtins, as are `mean` `median` and `duration(s)`                                                 |
//	| `all` `any` `none` `one` `filter` `map` `find`    | -               | expr's list builtins, as are `count` `sum` `first` `last` `sort` `uniq` `flatten` `keys` `values`       |
//	| `now()`                                           | -               | not allowed: results must not depend on when the pipeline runs; use the record's event time             |
//
// # Aggregates
//
// CompileAggregate reads an aggregate entry such as `revenue: sum(amount)`:
// one call of count() or count(x), sum, avg, min, max, first, last,
// count_distinct, approx_count_distinct, or approx_percentile(x, p) with p
// a constant in (0, 1]. sum, avg and approx_percentile need a number; min
// and max an orderable value (number, string, timestamp or duration).
// Aggregates cannot be nested or combined (`sum(a) / count()`): compute
// with their results in a later map. Inside an aggregate's argument, sum,
// count, min, max, first and last are expr's list functions again
// (`sum(max(a, b))`).
package expr
