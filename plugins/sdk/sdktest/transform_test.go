package sdktest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/flowctl/flowctl/plugins/sdk"
)

type upperConfig struct {
	Field  string `json:"field"`  // the column to upper-case; required
	Suffix string `json:"suffix"` // appended to it; default "!"
}

func upperPlugin(f flaws) sdk.Plugin {
	return sdk.Plugin{
		Spec: sdk.Spec{
			Name: "upper", Kind: sdk.KindTransform, Version: "0.1.0",
			Fields: []sdk.FieldSpec{
				{Name: "field", Type: sdk.TypeString, Required: true},
				{Name: "suffix", Type: sdk.TypeString, Default: "!"},
			},
		},
		NewTransform: func() sdk.Transform { return &upperTransform{f: f} },
		Validate: func(config []byte) []sdk.Diagnostic {
			var c upperConfig
			if err := sdk.DecodeConfig(config, &c); err != nil {
				return []sdk.Diagnostic{{Msg: err.Error()}}
			}
			if c.Field == "" && !f.lenientField {
				return []sdk.Diagnostic{{Path: "field", Msg: "required"}}
			}
			return nil
		},
	}
}

// upperTransform upper-cases one string column, adds the suffix, and
// appends a column "len" with the string's length.
type upperTransform struct {
	f      flaws
	cfg    upperConfig
	index  int
	output []string
}

func (u *upperTransform) Open(_ context.Context, req sdk.TransformOpenRequest) ([]string, error) {
	if err := sdk.DecodeConfig(req.Config, &u.cfg); err != nil {
		return nil, err
	}
	if u.cfg.Field == "" {
		if !u.f.lenientField {
			return nil, &sdk.ConfigError{Path: "field", Msg: "required"}
		}
		u.cfg.Field = req.Columns[0]
	}
	u.index = slices.Index(req.Columns, u.cfg.Field)
	if u.index < 0 {
		return nil, &sdk.ConfigError{Path: "field", Msg: "no column " + u.cfg.Field}
	}
	u.output = append(slices.Clone(req.Columns), "len")
	return u.output, nil
}

func (u *upperTransform) Process(ctx context.Context, in sdk.Rows) (sdk.Rows, error) {
	if err := ctx.Err(); err != nil {
		if !u.f.slowCancel {
			return sdk.Rows{}, err
		}
		time.Sleep(2 * time.Second)
	}
	out := sdk.Rows{Columns: u.output}
	if u.f.wrongColumns {
		out.Columns = append(slices.Clone(u.output[:len(u.output)-1]), "length")
	}
	for _, row := range in.Rows {
		s, ok := row[u.index].(string)
		if !ok {
			return sdk.Rows{}, errors.New("not a string")
		}
		s = strings.ToUpper(s) + u.cfg.Suffix
		r := slices.Clone(row)
		r[u.index] = s
		var extra any = int64(len(s))
		if u.f.badValue {
			extra = []string{s}
		}
		if !u.f.wrongWidth {
			r = append(r, extra)
		}
		out.Rows = append(out.Rows, r)
	}
	return out, nil
}

func (u *upperTransform) Close(context.Context) error {
	if u.f.closeFails {
		return errors.New("close failed")
	}
	return nil
}

func transformCase(f flaws) TransformCase {
	return TransformCase{
		Plugin:  upperPlugin(f),
		Config:  []byte(`{"field": "name"}`),
		Columns: []string{"id", "name"},
		Rows:    [][]any{{int64(1), "ada"}, {int64(2), "grace"}, {int64(3), ""}},
		BadConfigs: map[string][]byte{
			"no such column": []byte(`{"field": "nope"}`),
			"unknown":        []byte(`{"field": "name", "feild": "x"}`),
		},
	}
}

func TestRunTransform(t *testing.T) {
	t.Parallel()
	RunTransform(t, transformCase(flaws{}))
}

func TestCheckValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, ""},
		{"absent", sdk.Absent, ""},
		{"scalars", []any{true, int64(1), 1.5, "s", []byte("b"), time.Now(), time.Second, decimal.New(1, -2)}, ""},
		{"nested", map[string]any{"a": []any{map[string]any{"b": int64(1)}}}, ""},
		{"int", 1, "value of type int, which is not one of the SDK's value types"},
		{"in a list", []any{int64(1), float32(2)}, "[1]: value of type float32, which is not one of the SDK's value types"},
		{"in a map", map[string]any{"b": int64(1), "a": map[string]any{"x": []string{}}}, "a: x: value of type []string, which is not one of the SDK's value types"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkValue(tt.v)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("checkValue(%#v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}
