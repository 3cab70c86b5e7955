// Command netutil-client is the example application: it reads what the
// netutil-fs sidecar serves, as any program can with plain file reads, and
// prints its cpuset, its environment and the pod's networks as a table.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// networkColumns are the files shown for each network, in table order.
var networkColumns = []string{"name", "interface", "ips", "mac", "pci"}

func main() {
	flags := flag.NewFlagSet("netutil-client", flag.ContinueOnError)
	root := flags.String("root", "/etc/netutil/fs", "where netutil-fs is mounted")
	check := flags.Bool("check", false, "only check that the mount answers (for a startup probe): exit 0 if cpu and networks/ can be read")
	if err := flags.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		os.Exit(2)
	}
	var err error
	if *check {
		err = checkMount(*root)
	} else {
		err = report(os.Stdout, *root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netutil-client:", err)
		os.Exit(1)
	}
}

// checkMount reads one per-reader file and one shared directory.
func checkMount(root string) error {
	if _, err := os.ReadFile(filepath.Join(root, "cpu")); err != nil {
		return err
	}
	_, err := os.ReadDir(filepath.Join(root, "networks"))
	return err
}

// report prints the cpuset, the environment and the networks table.
func report(w io.Writer, root string) error {
	cpu, err := os.ReadFile(filepath.Join(root, "cpu"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "cpuset: %s\n", strings.TrimSpace(string(cpu)))

	env, err := os.ReadDir(filepath.Join(root, "env"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "environment (%d variables):\n", len(env))
	for _, e := range env {
		value, err := os.ReadFile(filepath.Join(root, "env", e.Name()))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s=%s\n", e.Name(), strings.TrimSuffix(string(value), "\n"))
	}

	networks, err := os.ReadDir(filepath.Join(root, "networks"))
	if err != nil {
		return err
	}
	sort.Slice(networks, func(i, j int) bool { return atoi(networks[i].Name()) < atoi(networks[j].Name()) })
	fmt.Fprintf(w, "networks (%d):\n", len(networks))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\t"+strings.ToUpper(strings.Join(networkColumns, "\t")))
	for _, n := range networks {
		row := []string{n.Name()}
		for _, column := range networkColumns {
			value, err := readValue(filepath.Join(root, "networks", n.Name(), column))
			if err != nil {
				return err
			}
			row = append(row, value)
		}
		fmt.Fprintln(tw, "  "+strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// readValue reads a file as one cell: lines joined by commas, "-" when the
// value is not known and so the file is absent.
func readValue(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return "-", nil
	}
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(string(data)), ","), nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
