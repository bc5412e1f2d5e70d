package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newGraph() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print the pipeline graph as DOT or Mermaid",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pl, _, err := compile(cmd.ErrOrStderr(), args[0], "")
			if err != nil {
				return err
			}
			switch format {
			case "dot":
				fmt.Fprint(cmd.OutOrStdout(), pl.Graph.DOT())
			case "mermaid":
				fmt.Fprint(cmd.OutOrStdout(), pl.Graph.Mermaid())
			default:
				return &codeError{code: exitUsage, err: fmt.Errorf("--format %q: want dot or mermaid", format)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "dot or mermaid")
	return cmd
}
