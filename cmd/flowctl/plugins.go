package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/plugins/sdk"
)

func newPlugins() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List and inspect plugins"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the plugins flowctl can use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := newCatalog()
			if err != nil {
				return failed(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tFROM\tSUMMARY")
			for _, p := range cat.List() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Spec.Name, p.Spec.Kind, p.Spec.Version, "built-in", p.Spec.Summary)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a plugin's config spec",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := newCatalog()
			if err != nil {
				return failed(err)
			}
			found := false
			for _, p := range cat.List() {
				if p.Spec.Name != args[0] {
					continue
				}
				found = true
				printSpec(cmd, p.Spec)
			}
			if !found {
				return failed(fmt.Errorf("no plugin named %q", args[0]))
			}
			return nil
		},
	})
	return cmd
}

func printSpec(cmd *cobra.Command, s sdk.Spec) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s (%s %s): %s\n\n", s.Name, s.Kind, s.Version, s.Summary)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tREQUIRED\tDEFAULT\tDOC")
	var walk func(prefix string, fs []sdk.FieldSpec)
	walk = func(prefix string, fs []sdk.FieldSpec) {
		for _, f := range fs {
			typ := string(f.Type)
			if f.Type == sdk.TypeList {
				typ = "list<" + string(f.Elem) + ">"
			}
			if len(f.Enum) > 0 {
				typ += " (" + strings.Join(f.Enum, "|") + ")"
			}
			def := ""
			if f.Default != nil {
				def = fmt.Sprint(f.Default)
				if f.Secret {
					def = "(secret)"
				}
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%v\t%s\t%s\n", prefix, f.Name, typ, f.Required, def, f.Doc)
			walk(prefix+f.Name+".", f.Fields)
		}
	}
	walk("", s.Fields)
	tw.Flush()
	fmt.Fprintln(w)
}
