"""Whole-job comparison: `fastnn train mnist` against the same training in PyTorch.

    python bench/compare_training.py --data ../shared/data/mnist [--epochs 2]

Runs each job as its own process, one after the other on the same machine, and reports wall
time from process start to exit (startup, data loading and evaluation included), test
accuracy and peak resident memory (from the kernel's accounting of each child). Also times a
fastnn cold start (empty Numba cache) against a warm one on a single-batch job.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(cmd: list[str], env: dict | None = None) -> dict:
    """Wall seconds, peak RSS (MB) and stdout of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out}")
    return {"wall_seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "stdout": out}


def fastnn_cmd(data: str, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fastnn", "train", "mnist", "--data", data, "--out", out,
            "--quiet", *extra]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="directory with the four MNIST files")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "numba-cache"
        env = {"NUMBA_CACHE_DIR": str(cache)}
        for name in ("cold", "warm"):  # a new run folder each: runs never overwrite
            r = run(fastnn_cmd(args.data, f"{tmp}/{name}", "--limit", "32", "--epochs", "1"), env)
            line = [ln for ln in r["stdout"].splitlines() if ln.startswith("first batch")][0]
            results[f"{name} start"] = {"wall_seconds": r["wall_seconds"], "first_batch": line}
        fast = run(fastnn_cmd(args.data, f"{tmp}/full", "--epochs", str(args.epochs)), env)
        fast_report = json.loads((Path(tmp) / "full" / "report.json").read_text())
        results["fastnn"] = {"wall_seconds": fast["wall_seconds"],
                             "peak_rss_mb": fast["peak_rss_mb"],
                             "train_seconds": fast_report["wall_seconds"],
                             "test_accuracy": fast_report["test_accuracy"]}
    try:
        import torch  # noqa: F401
    except ImportError:
        print("PyTorch is not installed: only fastnn was measured")
    else:
        torch_run = run([sys.executable, str(HERE / "torch_mnist.py"), "--data", args.data,
                         "--epochs", str(args.epochs)])
        t = json.loads(torch_run["stdout"].strip().splitlines()[-1])
        results["pytorch"] = {"wall_seconds": torch_run["wall_seconds"],
                              "peak_rss_mb": torch_run["peak_rss_mb"],
                              "train_seconds": t["train_seconds"],
                              "test_accuracy": t["test_accuracy"]}
    for name, r in results.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in r.items()))
    if "pytorch" in results:
        f, p = results["fastnn"], results["pytorch"]
        print(f"end to end: fastnn {f['wall_seconds']:.1f}s vs PyTorch {p['wall_seconds']:.1f}s "
              f"(fastnn takes {f['wall_seconds'] / p['wall_seconds']:.2f}x PyTorch's time); "
              f"peak memory {f['peak_rss_mb']:.0f} MB vs {p['peak_rss_mb']:.0f} MB")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
