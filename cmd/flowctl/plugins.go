package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flowctl/flowctl/plugins/sdk"
	"github.com/flowctl/flowctl/runtime/config"
	"github.com/flowctl/flowctl/runtime/pluginhost"
)

func newPlugins() *cobra.Command {
	cmd := &cobra.Command{Use: "plugins", Short: "List, inspect and lock plugins"}
	var pipeline string
	cmd.PersistentFlags().StringVarP(&pipeline, "pipeline", "f", "", "also look in this pipeline file's plugin_dirs")
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the plugins flowctl can use: built-in, and flowctl-plugin-NAME executables in $FLOWCTL_PLUGIN_PATH and $PATH",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, p, err := pluginsHost(cmd, pipeline)
			if err != nil {
				return err
			}
			defer host.Close()
			entries, err := host.List(cmd.Context(), p)
			if err != nil {
				// Executables that do not work are reported; the rest
				// is listed.
				fmt.Fprintln(cmd.ErrOrStderr(), "flowctl:", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tFROM\tSUMMARY")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Spec.Name, e.Spec.Kind, e.Spec.Version, from(e), e.Spec.Summary)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a plugin's config spec",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, p, err := pluginsHost(cmd, pipeline)
			if err != nil {
				return err
			}
			defer host.Close()
			entries, err := host.Inspect(cmd.Context(), p, args[0])
			if err != nil {
				return failed(err)
			}
			if len(entries) == 0 {
				return failed(fmt.Errorf("no plugin named %q: no built-in and no %s%s in $%s or $PATH",
					args[0], pluginhost.Prefix, args[0], pluginhost.PluginPathEnv))
			}
			for _, e := range entries {
				printSpec(cmd, e)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "lock FILE...",
		Short: "Pin the third-party plugins of pipelines by checksum in " + pluginhost.LockFile + " next to each",
		Long: `lock writes, next to each pipeline file, a ` + pluginhost.LockFile + ` that pins the
flowctl-plugin-NAME executables the pipeline uses by the SHA-256 of their
contents. Once it exists, a pipeline of that folder runs a third-party
plugin only if its executable has the pinned checksum. Run it again after
installing a new build of a plugin you trust.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := newHost(cmd.ErrOrStderr())
			if err != nil {
				return failed(err)
			}
			defer host.Close()
			for _, f := range args {
				p, err := loadPipeline(cmd, f)
				if err != nil {
					return err
				}
				path, locked, err := host.Lock(cmd.Context(), p)
				if err != nil {
					return failed(err)
				}
				for _, l := range locked {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", path, l)
				}
			}
			return nil
		},
	})
	return cmd
}

// pluginsHost returns the host of the plugins commands and the pipeline
// named by --pipeline, if any.
func pluginsHost(cmd *cobra.Command, pipeline string) (*pluginhost.Host, *config.Pipeline, error) {
	var p *config.Pipeline
	if pipeline != "" {
		var err error
		if p, err = loadPipeline(cmd, pipeline); err != nil {
			return nil, nil, err
		}
	}
	host, err := newHost(cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, failed(err)
	}
	return host, p, nil
}

// loadPipeline loads a pipeline file for what it says about plugins,
// printing its errors.
func loadPipeline(cmd *cobra.Command, file string) (*config.Pipeline, error) {
	p, ds := config.LoadFile(file)
	if ds.HasErrors() {
		printDiags(cmd.ErrOrStderr(), ds)
		return nil, &codeError{code: exitError, err: errReported}
	}
	return p, nil
}

// from says where a plugin comes from.
func from(e pluginhost.Entry) string {
	switch {
	case e.Path == "":
		return "built-in"
	case e.Shadowed:
		return e.Path + " (shadowed by the built-in)"
	}
	return e.Path
}

func printSpec(cmd *cobra.Command, e pluginhost.Entry) {
	w := cmd.OutOrStdout()
	s := e.Spec
	fmt.Fprintf(w, "%s (%s %s): %s\nfrom: %s\n\n", s.Name, s.Kind, s.Version, s.Summary, from(e))
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
