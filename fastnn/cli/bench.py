"""``fastnn bench`` (time the zoo and the kernels, each framework in processes of its own),
``fastnn bench show RESULT.json`` (its tables again) and ``fastnn bench compare OLD.json
NEW.json`` (each row's change; non-zero exit past a threshold)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from .. import benchmark, plots, zoo
from .._io import atomic_write_text
from ..benchmark import cluster, runner
from ..sweep import runner as sweep_runner
from .options import integer, new_file


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="time the zoo against PyTorch, Keras and onnxruntime, and the kernels, each "
        "framework alone in its own processes",
        description="Times each zoo network's inference (batch 1 to 256) and training step "
        "(batch 8 to 128) on 1 and all threads, SimpleVGGNet at 32-128 pixels, batch-1 "
        "latency with one core busy, and the kernels. Every framework runs alone in a process "
        "of its own, the processes taking turns; the tables give medians and fastnn's time "
        "over the other's (lower is better). `fastnn bench compare OLD NEW` compares two runs.")
    bench.add_argument("--quick", action="store_true", help="the two small networks, batch 1 "
                       "and 32, all threads: about 30 s")
    bench.add_argument("--networks", nargs="+", choices=[net.name for net in zoo.ZOO],
                       help="only these networks of the zoo (default: all)")
    bench.add_argument("--threads", nargs="+", type=integer(1), metavar="T",
                       help="thread counts (default: 1 and all usable cores)")
    bench.add_argument("--batches", nargs="+", type=integer(1), metavar="B",
                       help="inference batch sizes (default 1 8 32 128 256)")
    bench.add_argument("--train-batches", nargs="+", type=integer(1), metavar="B",
                       help="training batch sizes (default 8 32 128)")
    bench.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                       help="the same on every side: SGD lr 0.01 momentum 0.9 (default), or "
                       "Adam lr 1e-3")
    bench.add_argument("--keras-python", metavar="PYTHON", help="the Python that times Keras "
                       "(a virtual environment with tensorflow-cpu, keras and fastnn; default: "
                       "this one)")
    bench.add_argument("--rounds", type=integer(3), default=3,
                       help="processes per framework and cell, taking turns (at least 3)")
    bench.add_argument("--timeout", type=float, default=600, metavar="S",
                       help="seconds a process may take before it is killed (default 600)")
    bench.add_argument("--sizes", action=argparse.BooleanOptionalAction, default=None,
                       help="SimpleVGGNet at 32 and 128 pixels too (default: on, off with "
                       "--quick)")
    bench.add_argument("--load", action=argparse.BooleanOptionalAction, default=None,
                       help="batch-1 latency and the batch-32 step again with one core kept "
                       "busy by a background process (default: on, off with --quick)")
    bench.add_argument("--kernels", action=argparse.BooleanOptionalAction, default=None,
                       help="the kernel table (default: on, off with --quick)")
    bench.add_argument("--json", metavar="FILE", help="where to write the results (a new file; "
                       "default runs/bench/fastnn-bench-DATE-TIME.json)")
    bench.add_argument("--plot", nargs="?", const="", metavar="PNG", help="also draw log-log "
                       "curves of time against batch size (default: the JSON's name, .png)")
    bench.add_argument("--scheduler", metavar="ADDRESS", help="run the bench once on each host "
                       "of this Dask cluster, one host at a time; one JSON per machine in "
                       "runs/bench/ (or the --json folder) and a table across machines "
                       "(needs pip install 'fastnn[dist]')")
    bench.set_defaults(func=cmd_bench)
    more = bench.add_subparsers(dest="bench_command", metavar="compare | show")
    show = more.add_parser("show", help="the tables (and curves) of a saved bench result",
                           description="Prints every table of a bench result file again.")
    show.add_argument("result", help="a result written by fastnn bench (JSON)")
    show.add_argument("--plot", metavar="PNG", help="also draw its curves into this new file")
    show.set_defaults(func=cmd_bench_show)
    compare = more.add_parser(
        "compare", help="each row's change between two bench results",
        description="Prints each row both results share, old and new time and the change; "
        "exits with 1 when a row is slower by more than --fail-above.")
    compare.add_argument("old", help="the earlier result (JSON)")
    compare.add_argument("new", help="the later result (JSON)")
    compare.add_argument("--fail-above", metavar="PCT", help="exit with 1 when a row slows "
                         "down by more than this, e.g. 10%%")
    compare.add_argument("--stat", choices=["min", "median"], default="min",
                         help="compare the processes' minimum (default) or median")
    compare.set_defaults(func=cmd_bench_compare)


def _json_path(requested: str | None) -> Path:
    """--json as given (never replacing a file), else a new runs/bench/fastnn-bench-<time>.json
    under the working directory: the bench never rewrites a file in the repository."""
    if requested:
        return new_file(requested)
    stem = Path("runs/bench") / f"fastnn-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = stem.with_suffix(".json"), 1
    while path.exists():
        n += 1
        path = stem.parent / f"{stem.name}-{n}.json"
    return path


def _interrupt(signum, frame):  # a kill (SIGTERM) cleans up as Ctrl-C does
    raise KeyboardInterrupt


def cmd_bench(args: argparse.Namespace) -> int:
    if args.scheduler:
        return _bench_hosts(args)
    json_path = _json_path(args.json)
    plot_path = None
    if args.plot is not None:
        plots._pyplot()  # no matplotlib: say so now, not after minutes of benchmarking
        plot_path = new_file(args.plot) if args.plot else json_path.with_suffix(".png")
    full = not args.quick
    cells = runner.plan(args.networks, args.threads, args.batches, args.train_batches,
                        sizes=full if args.sizes is None else args.sizes,
                        load=full if args.load is None else args.load, quick=args.quick)
    settings = runner.Settings(rounds=args.rounds, timeout=args.timeout,
                               optimizer=args.optimizer, quick=args.quick, cells=cells,
                               keras_python=args.keras_python,
                               kernels=full if args.kernels is None else args.kernels,
                               budget=0.1 if args.quick else 0.3)
    print(f"timing {len(cells)} cells, {args.rounds} processes per framework each"
          + ("" if args.quick else " (about 20 minutes on 2 cores; --quick takes 30 s)"),
          file=sys.stderr)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = benchmark.run(settings, progress=lambda text: print(
            f"  {text}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("fastnn: bench interrupted: its processes are stopped and nothing was written",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(benchmark.report(result))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(result, indent=1))
    print(f"\nwrote {json_path}")
    if plot_path is not None:
        plots.bench_curves(result, plot_path)
        print(f"wrote {plot_path}")
    return 0


def _bench_hosts(args: argparse.Namespace) -> int:
    """--scheduler: the bench on each host in turn (its own plan), each result written as
    soon as it is in, then the table across machines."""
    if args.plot is not None:
        raise ValueError("--plot draws one machine's curves: use fastnn bench show FILE --plot "
                         "on a machine's file")
    folder = Path(args.json) if args.json else Path("runs/bench")
    if folder.suffix == ".json":
        raise ValueError(f"--json {folder}: with --scheduler give a folder (one file per "
                         f"machine goes there)")
    full = not args.quick
    plan = dict(networks=args.networks, threads=args.threads, batches=args.batches,
                train_batches=args.train_batches, sizes=full if args.sizes is None
                else args.sizes, load=full if args.load is None else args.load,
                quick=args.quick)
    settings = dict(rounds=args.rounds, timeout=args.timeout, optimizer=args.optimizer,
                    quick=args.quick, kernels=full if args.kernels is None else args.kernels,
                    budget=0.1 if args.quick else 0.3)
    found = []
    with sweep_runner.dask_client(None, 1, args.scheduler) as client:
        for result in cluster.run_on_hosts(client, plan, settings, progress=lambda text: print(
                f"  {text}", file=sys.stderr, flush=True)):
            path = folder / cluster.file_name(result)
            if path.exists():
                path = new_file(str(path.with_name(
                    f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}.json")))
            atomic_write_text(path, json.dumps(result, indent=1))
            print(f"wrote {path}", file=sys.stderr)
            found.append(result)
    print(f"fastnn's medians on {len(found)} machine{'s' if len(found) != 1 else ''} (each "
          f"machine's file has every table):\n")
    print(cluster.machines_table(found))
    return 0


def cmd_bench_show(args: argparse.Namespace) -> int:
    result = benchmark.load(args.result)
    plot_path = new_file(args.plot) if args.plot else None
    print(benchmark.report(result))
    if plot_path is not None:
        plots.bench_curves(result, plot_path)
        print(f"\nwrote {plot_path}")
    return 0


def cmd_bench_compare(args: argparse.Namespace) -> int:
    old, new = benchmark.load(args.old), benchmark.load(args.new)
    threshold = (benchmark.results.parse_threshold(args.fail_above)
                 if args.fail_above is not None else None)
    table, slower, warnings = benchmark.compare(old, new, threshold, args.stat)
    for w in warnings:
        print(f"fastnn: warning: {w}", file=sys.stderr)
    print(f"{args.old} -> {args.new}, the processes' {args.stat} (change: new over old, minus "
          "1; above 0 is slower)\n")
    print(table)
    if slower:
        print(f"\n{len(slower)} rows slower by more than {args.fail_above}: "
              + "; ".join(slower), file=sys.stderr)
        return 1
    return 0
