// Command netutil-fs is the sidecar: it mounts the read-only filesystem
// that tells each reading process its cpuset, its environment and the pod's
// network attachments.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/netutil-fs/netutil-fs/fs"
	"github.com/netutil-fs/netutil-fs/sources"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type config struct {
	mountpoint   string
	podinfoDir   string
	procRoot     string
	sysRoot      string
	pollInterval time.Duration
	showVersion  bool
}

func main() {
	cfg, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netutil-fs:", err)
		os.Exit(2)
	}
	if cfg.showVersion {
		fmt.Println(version)
		return
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// Requests are small and come one per open; with more than one
		// P the runtime wakes extra threads for each, which measured
		// as more CPU and slower per-reader reads on 2 cores.
		runtime.GOMAXPROCS(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		klog.ErrorS(err, "Exiting")
		klog.Flush()
		os.Exit(1)
	}
	klog.InfoS("Stopped", "mountpoint", cfg.mountpoint)
	klog.Flush()
}

// parseArgs parses the command line, klog's flags (-v, …) included.
func parseArgs(args []string, output io.Writer) (config, error) {
	var cfg config
	flags := flag.NewFlagSet("netutil-fs", flag.ContinueOnError)
	// The flag package prints every flag after a parse error; one line,
	// printed by main, says more. Usage goes out only when asked for.
	flags.SetOutput(io.Discard)
	flags.StringVar(&cfg.mountpoint, "mountpoint", "/etc/netutil/fs", "where to mount the filesystem")
	flags.StringVar(&cfg.podinfoDir, "podinfo-dir", "/etc/podinfo", "Downward API directory holding the pod's annotations file (or a network-status file)")
	flags.StringVar(&cfg.procRoot, "proc-root", "/proc", "where procfs is mounted")
	flags.StringVar(&cfg.sysRoot, "sys-root", "/sys", "where sysfs of the pod's network namespace is mounted")
	flags.DurationVar(&cfg.pollInterval, "poll-interval", time.Second, "how often to re-read the podinfo in case a change event was missed")
	flags.BoolVar(&cfg.showVersion, "version", false, "print the version and exit")
	klog.InitFlags(flags)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			flags.SetOutput(output)
			flags.PrintDefaults()
		}
		return config{}, err
	}
	if flags.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	for name, value := range map[string]string{"mountpoint": cfg.mountpoint, "podinfo-dir": cfg.podinfoDir, "proc-root": cfg.procRoot, "sys-root": cfg.sysRoot} {
		if value == "" {
			return config{}, fmt.Errorf("--%s must not be empty", name)
		}
	}
	if cfg.pollInterval <= 0 {
		return config{}, fmt.Errorf("--poll-interval must be positive, got %s", cfg.pollInterval)
	}
	return cfg, nil
}

// run builds the sources and the root, and serves until ctx is done.
func run(ctx context.Context, cfg config) error {
	klog.InfoS("Starting", "version", version, "mountpoint", cfg.mountpoint, "podinfoDir", cfg.podinfoDir)
	cgroups, err := sources.FindCgroupMounts(cfg.procRoot)
	if err != nil {
		klog.ErrorS(err, "Cannot find cgroup mounts; cpu falls back to each reader's own view and affinity")
	}
	klog.V(2).InfoS("Cgroup mounts", "v2", cgroups.V2, "cpusetV1", cgroups.CpusetV1)
	root := fs.NewRoot(sources.NewProcfs(cfg.procRoot, cgroups))

	podinfo := sources.NewPodinfo(cfg.podinfoDir, sources.NewSysClassNet(cfg.sysRoot))
	watcher := sources.NewWatcher(podinfo, cfg.pollInterval)
	apply := func(update sources.Update) {
		if update.Err != nil {
			logPodinfoError(update.Err)
			return
		}
		root.SetNetworks(update.Networks)
		klog.InfoS("Networks updated", "count", update.Networks.Len())
	}
	if update, _ := watcher.Poll(); update.Err != nil || update.Networks != nil {
		apply(update)
	}
	go watcher.Run(ctx, apply)

	return fs.Serve(ctx, cfg.mountpoint, root, func() {
		klog.InfoS("Serving", "mountpoint", cfg.mountpoint)
	})
}

// logPodinfoError says what a podinfo error means for readers: in every
// case they keep the last good networks.
func logPodinfoError(err error) {
	switch {
	case errors.Is(err, sources.ErrNotReady):
		klog.InfoS("Podinfo not written yet; keeping the current networks", "err", err)
	case errors.Is(err, sources.ErrNoPodinfo):
		klog.InfoS("No podinfo file; keeping the current networks until one appears", "err", err)
	default:
		klog.ErrorS(err, "Cannot use podinfo; keeping the last good networks")
	}
}
