"""``fastnn sweep SPEC.toml``: trials of ``fastnn train`` chosen by a grid or Optuna and run on
this machine's cores (a Dask LocalCluster), in this process (``--workers 0``) or on a Dask
cluster (``--scheduler tcp://HOST:PORT``); see :mod:`fastnn.sweep`."""

from __future__ import annotations

import argparse
import sys

from .. import sweep
from .options import integer, number


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``fastnn sweep SPEC.toml [--workers N --threads T | --scheduler ADDRESS]``."""
    p = sub.add_parser(
        "sweep", help="train many settings and keep the best: a grid, random or TPE search "
        "(needs pip install 'fastnn[dist,sweep]')",
        description="Runs the trials of a spec file (TOML: [train] the data, model and fixed "
        "options; [search] grid, random or tpe, trials, metric, direction; [space] the "
        "choices and ranges) and writes runs/sweep/N: trials.csv, study.journal, best.npz, "
        "report.json. By default on a Dask LocalCluster of cores // threads workers.")
    p.add_argument("spec", nargs="?", help="the spec file (TOML); not with --resume")
    p.add_argument("--workers", type=integer(0), help="LocalCluster workers (default cores // "
                   "threads); 0 runs the trials one after another in this process, no Dask")
    p.add_argument("--threads", type=integer(1), help="Numba threads per trial (default 1 on "
                   "Dask; all cores with --workers 0)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask cluster, e.g. "
                   "tcp://10.0.0.5:8786")
    p.add_argument("--timeout", type=number(0, low_open=True), default=10.0, metavar="S",
                   help="seconds to wait for the scheduler and its first worker (default 10)")
    p.add_argument("--out", help="the sweep's folder (default: a new runs/sweep/N)")
    p.add_argument("--resume", metavar="RUN", help="carry on the sweep in this folder: the "
                   "finished trials are kept, the others run")
    p.add_argument("--plot", action="store_true", help="also draw sweep.png: the metric per "
                   "trial, the best so far, and the metric against each parameter")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    if bool(args.spec) == bool(args.resume):
        raise ValueError("give a spec file, or --resume RUN (not both)")
    if args.scheduler and args.workers is not None:
        raise ValueError("--workers shapes a LocalCluster; with --scheduler the cluster "
                         "has its own workers")
    if args.resume and args.out:
        raise ValueError("--resume writes into the sweep's own folder; --out does not apply")
    try:
        report = sweep.run(args.spec, workers=args.workers, threads=args.threads,
                           scheduler=args.scheduler, out=args.out, resume=args.resume,
                           plot=args.plot, progress=False if args.quiet else None,
                           timeout=args.timeout)
    except sweep.SweepInterrupted as stop:
        print(f"\nfastnn: sweep interrupted: {stop.done} of {stop.total} trials finished and "
              f"written to {stop.folder}; fastnn sweep --resume {stop.folder} runs the others",
              file=sys.stderr)
        return 130
    best = report["best"]
    print(f"{report['complete']} trials complete, {report['failed']} failed in "
          f"{report['wall_seconds']:.1f} s")
    if best:
        params = ", ".join(f"{k} {best[k]}" for k in report["space"])
        print(f"best: trial {best['number']}, {report['metric']} "
              f"{float(best[report['metric']]):.4f} ({params}); its model is "
              f"{report['folder']}/best.npz")
    overhead = report["dask_overhead_seconds_per_trial"]
    if overhead is not None:
        print(f"Dask's overhead: {overhead * 1e3:.0f} ms per trial")
    if report.get("plot"):
        print(f"wrote {report['plot']}")
    print(f"sweep written to {report['folder']}")
    return 0
