"""The bench's parent process: it plans the cells of the grid, then runs every timing in a
process of its own (:mod:`fastnn.benchmark.child`), the frameworks taking turns.

Why processes: a thread pool that has just worked keeps spinning for a while (Numba's OpenMP
threads, PyTorch's, OpenBLAS's), so in one process whoever runs second pays for the other's
idle pool; it once tripled PyTorch's LeNet-5 step. Here each process holds one framework, and
the next starts only when the last has exited.

A cell is one network at one image size, thread count and machine load, with its cases
(inference at some batch sizes, training at others). For each cell one process exports the
model (weights, ONNX, a probe batch with fastnn's probabilities); then, ``rounds`` times,
fastnn, PyTorch, Keras and onnxruntime each time every case in a new process that first checks it
computes fastnn's probabilities from that file. A process's figure for a case is its best
repeat; across processes the result keeps the minimum, the median and the spread.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import zoo
from . import kernels as kernel_cases
from . import machine, results

CHILD = Path(__file__).with_name("child.py")
FRAMEWORKS = ("fastnn", "pytorch", "keras", "onnxruntime")
IMPLEMENTATIONS = tuple(kernel_cases.IMPLEMENTATIONS)
INFER_BATCHES = (1, 8, 32, 128, 256)
TRAIN_BATCHES = (8, 32, 128)
TRAIN_IMAGES = 128  # a train case runs max(1, 128 // batch) steps per timed call
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS")

# One core kept busy. The loop asks for its parent now and then and ends when the parent is
# gone, so not even a killed bench leaves it spinning.
BUSY = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    sum(range(10**6))\n"


@dataclass
class Cell:
    """One network at one size, thread count and load, and the cases to time there."""

    network: str
    size: int
    threads: int
    load: bool
    infer: tuple[int, ...] = ()
    train: tuple[int, ...] = ()

    def cases(self) -> list[dict]:
        return ([{"task": "infer", "batch": b} for b in self.infer]
                + [{"task": "train", "batch": b, "steps": max(1, TRAIN_IMAGES // b)}
                   for b in self.train])

    def label(self) -> str:
        return (f"{self.network}@{self.size} {self.threads} thread"
                f"{'s' if self.threads > 1 else ''}{', loaded' if self.load else ''}")


@dataclass
class Settings:
    rounds: int = 3
    budget: float = 0.3
    timeout: float = 600.0
    optimizer: str = "sgd"
    keras_python: str | None = None  # a Python with Keras and fastnn; default: this one
    kernels: bool = True
    kernel_budget: float = 0.2
    kernel_names: list[str] | None = None  # only the cases whose name contains one of these
    quick: bool = False
    cells: list[Cell] = field(default_factory=list)


def plan(networks: list[str] | None = None, threads: list[int] | None = None,
         infer: tuple[int, ...] | None = None, train: tuple[int, ...] | None = None,
         sizes: bool | None = None, load: bool | None = None,
         quick: bool = False) -> list[Cell]:
    """The cells of a run. By default: every zoo network at its own size with 1 and all
    usable cores' threads, inference at batch 1-256 and training at 8-128; SimpleVGGNet
    with batch norm at its other sizes; and, with one core busy, batch-1 inference and the
    batch-32 step. ``quick``: the two small networks, all threads, batches 1 and 32, and no
    sizes or load unless asked for."""
    cores = machine.environment()["usable_cores"] or 1
    sizes = not quick if sizes is None else sizes
    load = not quick if load is None else load
    if quick:
        networks = networks or ["mnist-cnn", "lenet5"]
        threads, infer, train = threads or [cores], infer or (1, 32), train or (32,)
    nets = [zoo.get(name) for name in (networks or [n.name for n in zoo.ZOO])]
    threads = sorted(set(threads or [1, cores]))
    for t in threads:
        if not 1 <= t <= cores:
            raise ValueError(f"--threads {t}: this machine has {cores} usable cores")
    infer, train = tuple(infer or INFER_BATCHES), tuple(train or TRAIN_BATCHES)
    cells = [Cell(n.name, n.size, t, False, infer, train) for n in nets for t in threads]
    top = threads[-1]
    if sizes:
        cells += [Cell(n.name, s, top, False, (1, 32), (32,)) for n in nets for s in n.sizes]
    if load:
        cells += [Cell(n.name, n.size, top, True, (1,), (32,)) for n in nets]
    return cells


KERAS_HINT = ("pip install tensorflow-cpu keras, or --keras-python PATH: the Python of a "
              "virtual environment that has them and fastnn")


def missing(framework: str, python: str | None = None) -> str | None:
    """Why a comparator cannot run here (``python``: the Python that runs it, if not this
    one), or None."""
    if framework == "pytorch" and importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed (pip install torch, the CPU build)"
    if framework == "keras" and python:
        try:
            check = subprocess.run([python, "-c", "import keras, tensorflow, fastnn"],
                                   capture_output=True, text=True, timeout=300,
                                   stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"--keras-python {python} cannot run ({e})"
        if check.returncode:
            lines = check.stderr.strip().splitlines() or ["no output"]
            return f"--keras-python {python} cannot import Keras and fastnn ({lines[-1]})"
    elif framework == "keras" and any(importlib.util.find_spec(m) is None
                                      for m in ("keras", "tensorflow")):
        return f"Keras is not installed ({KERAS_HINT})"
    if framework == "onnxruntime":
        absent = [m for m in ("onnxruntime", "onnx") if importlib.util.find_spec(m) is None]
        if absent:
            return f"{' and '.join(absent)} not installed (pip install 'fastnn[onnx]' onnxruntime)"
    return None


class ChildFailed(Exception):
    """A timed process crashed, hung past its time limit or gave no result."""


class Runner:
    """Spawns the children one at a time in a private temporary folder. ``command`` builds
    a child's command line from its spec and result paths and the Python to run it (tests
    swap in fakes)."""

    def __init__(self, settings: Settings, folder: Path,
                 command: Callable[[Path, Path, str], list[str]] | None = None,
                 progress: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.folder = folder
        self.command = command or (lambda spec, out, python: [python, str(CHILD), str(spec),
                                                              str(out)])
        self.pythons = {"keras": settings.keras_python or sys.executable}
        self.progress = progress or (lambda text: None)
        self.count = 0

    def child(self, spec: dict, threads: int) -> dict:
        """Runs one child to completion; its result, or ChildFailed naming why."""
        self.count += 1
        spec_path = self.folder / f"{self.count}.spec.json"
        out_path = self.folder / f"{self.count}.result.json"
        log_path = self.folder / f"{self.count}.log"
        spec_path.write_text(json.dumps({**spec, "threads": threads}))
        env = {**os.environ, **dict.fromkeys(THREAD_VARIABLES, str(threads))}
        with open(log_path, "w") as log:
            python = self.pythons.get(spec.get("framework"), sys.executable)
            proc = subprocess.Popen(self.command(spec_path, out_path, python), stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
            try:
                code = proc.wait(timeout=self.settings.timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                raise ChildFailed(f"no answer within {self.settings.timeout:g} s "
                                  "(killed)") from None
            except BaseException:  # Ctrl-C: take the child down with us
                _kill(proc)
                raise
        if code != 0 or not out_path.exists():
            lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
            why = lines[-1].strip() if lines else "no output"
            raise ChildFailed(f"exited with {_exit_text(code)}: {why}"[:300])
        return json.loads(out_path.read_text())

    def run(self) -> dict:
        """Every cell and the kernel table; the result in the format of
        :mod:`fastnn.benchmark.results` (nothing is written here)."""
        s = self.settings
        env = machine.environment()
        absent = {fw: missing(fw, s.keras_python if fw == "keras" else None)
                  for fw in FRAMEWORKS}
        rows: list[dict] = []
        exports: dict[tuple[str, int], dict] = {}
        peaks = {}
        for t in sorted({c.threads for c in s.cells} or {env["usable_cores"] or 1}):
            self.progress(f"matmul peak, {t} threads")
            with contextlib.suppress(ChildFailed):
                peaks[str(t)] = self.child({"job": "peak"}, t)["gflops"]
        for cell in s.cells:
            key = (cell.network, cell.size)
            if key not in exports:
                self.progress(f"export {cell.network}@{cell.size}")
                exports[key] = self._export(cell)
            rows += self._cell(cell, exports[key], absent, env)
        kernel_rows = self._kernels(env) if s.kernels else []
        return results.make(env, asdict(s) | {"cells": [asdict(c) for c in s.cells]},
                            peaks, rows, kernel_rows)

    def _export(self, cell: Cell) -> dict:
        stem = self.folder / f"{cell.network}-{cell.size}"
        files = {"weights": f"{stem}.npz", "onnx": f"{stem}.onnx", "probe": f"{stem}.probe.npy",
                 "expected": f"{stem}.expected.npy"}
        try:
            out = self.child({"job": "export", "network": cell.network, "size": cell.size,
                              "files": files}, 1)
        except ChildFailed as e:
            return {"error": f"export failed: {e}"}
        return out | {"files": files}

    def _cell(self, cell: Cell, export: dict, absent: dict, env: dict) -> list[dict]:
        """Every row of one cell: the frameworks that can run take turns, the others get
        their reason (not installed, no export)."""
        frameworks = [fw for fw in FRAMEWORKS if fw != "onnxruntime" or cell.infer]
        why = {fw: absent[fw] or export.get("error") for fw in frameworks}
        if "onnxruntime" in why and not why["onnxruntime"] and export.get("onnx_error"):
            why["onnxruntime"] = f"no ONNX export: {export['onnx_error']}"
        runs = self._take_turns(cell, export, [fw for fw in frameworks if not why[fw]], env)
        rows = []
        for case in cell.cases():
            for fw in frameworks:
                if fw != "onnxruntime" or case["task"] == "infer":
                    row = self._row(cell, case, fw, export, runs.get(fw, []))
                    if why[fw]:
                        row |= {"status": "missing" if absent[fw] else "failed",
                                "reason": why[fw]}
                    rows.append(results.with_stats(row))
        return rows

    def _take_turns(self, cell: Cell, export: dict, frameworks: list[str],
                    env: dict) -> dict[str, list[dict | str]]:
        """``rounds`` processes per framework, taking turns (under one busy core for a
        loaded cell): each framework's results, or the reason a process failed."""
        s = self.settings
        runs: dict[str, list[dict | str]] = {fw: [] for fw in frameworks}
        with busy_core() if cell.load else contextlib.nullcontext():
            for r in range(s.rounds):
                for fw in frameworks:
                    self.progress(f"{cell.label()}: {fw}, round {r + 1} of {s.rounds}")
                    cases = [c for c in cell.cases() if fw != "onnxruntime"
                             or c["task"] == "infer"]
                    spec = {"job": "time", "framework": fw, "network": cell.network,
                            "files": export["files"], "input_shape": export["input_shape"],
                            "classes": export["classes"], "cases": cases,
                            "optimizer": s.optimizer, "budget": s.budget}
                    try:
                        out = self.child(spec, cell.threads)
                    except ChildFailed as e:
                        runs[fw].append(str(e))
                        continue
                    env["runtime"].setdefault(fw, out["runtime"])
                    runs[fw].append(out)
        return runs

    def _row(self, cell: Cell, case: dict, fw: str, export: dict, runs: list) -> dict:
        """One case of one framework: each process's best time, and failures counted."""
        done = [run for run in runs if not isinstance(run, str)]
        errors = [run for run in runs if isinstance(run, str)]
        times = [next(min(c["samples"]) for c in run["cases"] if c["task"] == case["task"]
                      and c["batch"] == case["batch"]) for run in done]
        flops = export.get(f"{case['task']}_flops")
        row = {"network": cell.network, "size": cell.size, "threads": cell.threads,
               "load": cell.load, "task": case["task"], "batch": case["batch"],
               "framework": fw, "processes": times,
               "flops": flops * case["batch"] if flops else None,
               "max_abs_diff": done[-1]["max_abs_diff"] if done else None}
        if not times:
            return row | {"status": "failed", "reason": errors[0] if errors else None}
        return row | {"status": "ok", "reason": (f"{len(errors)} of {len(runs)} processes "
                                                 f"failed: {errors[0]}" if errors else None)}

    def _kernels(self, env: dict) -> list[dict]:
        s = self.settings
        threads = max((c.threads for c in s.cells), default=env["usable_cores"] or 1)
        runs: dict[str, list] = {impl: [] for impl in IMPLEMENTATIONS}
        for r in range(s.rounds):
            for impl in IMPLEMENTATIONS:
                self.progress(f"kernels: {impl}, round {r + 1} of {s.rounds}")
                try:
                    out = self.child({"job": "kernels", "framework": impl,
                                      "budget": s.kernel_budget, "names": s.kernel_names},
                                     threads)
                except ChildFailed as e:
                    runs[impl].append(str(e))
                    continue
                runs[impl].append(out["cases"])
        ok = {impl: [run for run in v if not isinstance(run, str)] for impl, v in runs.items()}
        names = list(dict.fromkeys(c["case"] for v in ok.values() for run in v for c in run))
        rows = []
        for impl in IMPLEMENTATIONS:
            failed = [run for run in runs[impl] if isinstance(run, str)]
            if not ok[impl] and failed:
                rows.append(results.with_stats({"case": "(every case)", "implementation": impl,
                                                "threads": threads, "processes": [],
                                                "status": "failed", "reason": failed[0]}))
        for name in names:
            for impl in IMPLEMENTATIONS:
                times = [min(c["samples"]) for run in ok[impl] for c in run if c["case"] == name]
                if times:
                    failed = [run for run in runs[impl] if isinstance(run, str)]
                    rows.append(results.with_stats({
                        "case": name, "implementation": impl, "threads": threads,
                        "processes": times, "status": "ok",
                        "reason": f"{len(failed)} processes failed: {failed[0]}" if failed
                        else None}))
        return rows


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


def _kill(proc: subprocess.Popen) -> None:
    """Ends a child and everything it started (its own session), and waits for it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


@contextlib.contextmanager
def busy_core() -> Iterator[subprocess.Popen]:
    """One core kept busy by a background process for the duration; always stopped, on an
    error or Ctrl-C too (and it ends by itself if this process dies)."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        yield proc
    finally:
        _kill(proc)


def run(settings: Settings, progress: Callable[[str], None] | None = None) -> dict:
    """Runs the bench in a private temporary folder, removed afterwards; the result dict."""
    with tempfile.TemporaryDirectory(prefix="fastnn-bench-") as tmp:
        return Runner(settings, Path(tmp), progress=progress).run()
