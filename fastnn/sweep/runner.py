"""The client's side of a sweep: it chooses the trials (every point of a grid, or Optuna's
ask/tell with a journal file), hands them to an executor (this process, or Dask), and writes
everything itself, after each finished trial: workers need no shared file system.

Dask: a LocalCluster of ``cores // threads`` worker processes by default, each running one
trial at a time on ``threads`` Numba threads (NUMBA_NUM_THREADS is set in each worker's
environment before it starts, and each trial sets its thread's count too, so an existing
cluster is held to ``threads`` as well). A trial whose worker dies is submitted once more (the
scheduler may already have retried it), then recorded as failed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numba
import numpy as np

from .._io import probe_writable
from .._version import __version__
from ..cli.train import next_run_folder
from . import results
from .spec import Range, Spec, SpecError, check, load
from .trial import run_trial

VERSIONED = ("fastnn", "numpy", "numba")
CONNECT_TIMEOUT = 10.0
THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep, after the finished trials were written; ``folder`` resumes it."""

    def __init__(self, folder: Path, done: int, total: int):
        super().__init__(f"sweep interrupted with {done} of {total} trials finished")
        self.folder, self.done, self.total = folder, done, total


def _needs(module: str, extra: str, what: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"{what} needs {module}: pip install 'fastnn[{extra}]'") from None


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def check_versions(versions: dict) -> None:
    """``client.get_versions(packages=...)``'s answer: every worker must run this process's
    fastnn, NumPy and Numba; a one-line SweepError names the first worker that does not."""
    mine = versions["client"]["packages"]
    for worker, info in sorted(versions.get("workers", {}).items()):
        theirs = info.get("packages", {})
        for name in VERSIONED:
            if theirs.get(name) != mine.get(name):
                raise SpecError(f"worker {worker} runs {name} {theirs.get(name)}, this process "
                                f"{mine.get(name)}: install the same {', '.join(VERSIONED)} "
                                f"on every worker")


# --- executors --------------------------------------------------------------------------------


class InProcess:
    """Runs the trials one after another in this process (``--workers 0``): no Dask."""

    slots = 1
    label = "this process (no Dask)"

    def __init__(self, trial: Callable[[dict], dict]):
        self.trial, self.queue = trial, []

    def submit(self, config: dict) -> None:
        self.queue.append(config)

    def next(self) -> tuple[dict, dict | None, BaseException | None, float]:
        config = self.queue.pop(0)
        start = time.perf_counter()
        try:
            return config, self.trial(config), None, time.perf_counter() - start
        except Exception as e:  # a failed trial is recorded; the sweep goes on
            return config, None, e, time.perf_counter() - start

    def running(self) -> int:
        return len(self.queue)

    def cancel(self) -> None:
        self.queue.clear()


class OnDask:
    """Runs the trials on a Dask client's workers, at most one per worker thread at a time."""

    def __init__(self, client, trial: Callable[[dict], dict], retries: int = 1):
        distributed = _needs("distributed", "dist", "a sweep on Dask")
        self.client, self.trial, self.retries = client, trial, retries
        self.killed = distributed.KilledWorker
        self.pending = distributed.as_completed([], with_results=False)
        self.started: dict = {}  # future key -> (config, attempt, submit time)
        self.label = f"Dask at {client.scheduler.address}"

    @property
    def slots(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, config: dict, attempt: int = 1) -> None:
        future = self.client.submit(self.trial, config, pure=False,
                                    key=f"fastnn-trial-{config['number']}-{attempt}-"
                                        f"{os.urandom(4).hex()}")
        self.started[future.key] = (config, attempt, time.perf_counter())
        self.pending.add(future)

    def next(self) -> tuple[dict, dict | None, BaseException | None, float]:
        while True:
            future = next(self.pending)
            config, attempt, start = self.started.pop(future.key)
            error = future.exception()
            if isinstance(error, self.killed) and attempt <= self.retries:
                self.submit(config | {"attempt": attempt + 1}, attempt + 1)  # its worker died
                continue
            if isinstance(error, self.killed):
                error = RuntimeError(f"its worker died {attempt} times ({error})")
            result = None if error else future.result()
            future.release()
            return config, result, error, time.perf_counter() - start

    def running(self) -> int:
        return len(self.started)

    def cancel(self) -> None:
        for future in list(self.pending.futures):
            future.cancel()
        self.started.clear()


@contextlib.contextmanager
def _restored_environment() -> Iterator[None]:
    """A LocalCluster's nannies write Dask's worker variables (OMP_NUM_THREADS=1...) into this
    process's environment; they are put back afterwards."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def dask_client(workers: int | None, threads: int, scheduler: str | None,
                timeout: float = CONNECT_TIMEOUT) -> Iterator[object]:
    """A Dask client: on ``scheduler`` (an address), or on a new LocalCluster of ``workers``
    processes with ``threads`` Numba threads each (at most the cores between them); the
    versions of every worker checked."""
    distributed = _needs("distributed", "dist", "a sweep on Dask")
    import dask

    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} "
                          f"s ({type(e).__name__}); is it running?") from None
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            client.close()
            raise OSError(f"the Dask scheduler at {scheduler} has no workers after "
                          f"{timeout:g} s; start one with: dask worker {scheduler}") from None
        with contextlib.closing(client):
            check_versions(client.get_versions(packages=list(VERSIONED)))
            yield client
        return
    n = cores() // threads if workers is None else workers
    if n < 1 or n * threads > cores():
        raise ValueError(f"--workers {n} --threads {threads} asks for {n * threads} threads on "
                         f"{cores()} cores; give fewer (workers x threads <= cores)")
    # set before each worker process starts (it imports Numba before any `env` would apply)
    environ = {f"distributed.nanny.pre-spawn-environ.{v}": str(threads) for v in THREAD_VARIABLES}
    with _restored_environment(), tempfile.TemporaryDirectory(prefix="fastnn-dask-") as tmp, \
            dask.config.set({"distributed.scheduler.allowed-failures": 0,
                             "distributed.worker.daemon": False} | environ):
        cluster = distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, local_directory=tmp,
            dashboard_address=None, silence_logs=50)
        with contextlib.closing(cluster), distributed.Client(cluster) as client:
            check_versions(client.get_versions(packages=list(VERSIONED)))
            yield client


# --- the sweep --------------------------------------------------------------------------------


class _Study:
    """Which trial comes next: a grid's points in order, or Optuna's ask (random or TPE) on a
    study kept in ``study.journal``."""

    def __init__(self, spec: Spec, folder: Path, rows: list[dict]):
        self.spec = spec
        done = {int(r["number"]) for r in rows}
        self.optuna = None
        if spec.method == "grid":
            self.todo = [(i, p) for i, p in enumerate(spec.grid()) if i not in done]
            return
        optuna = _needs("optuna", "sweep", f"method = \"{spec.method}\"")
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (optuna.samplers.RandomSampler(seed=spec.seed) if spec.method == "random"
                   else optuna.samplers.TPESampler(seed=spec.seed))
        storage = JournalStorage(JournalFileBackend(str(folder / "study.journal")))
        self.optuna, self.state = optuna, TrialState
        self.study = optuna.create_study(study_name="fastnn-sweep", storage=storage,
                                         sampler=sampler, direction=spec.direction,
                                         load_if_exists=True)
        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            self.study.tell(t.number, state=TrialState.FAIL)  # interrupted: asked again
            self.study.enqueue_trial(t.params)
        self.todo = spec.total() - len(done)
        self.asked: dict = {}

    def remaining(self) -> int:
        return len(self.todo) if isinstance(self.todo, list) else self.todo

    def ask(self) -> tuple[int, dict]:
        if self.optuna is None:
            return self.todo.pop(0)
        self.todo -= 1
        trial = self.study.ask()
        params = {}
        for key, dim in self.spec.space.items():
            if isinstance(dim, Range) and dim.integer:
                params[key] = trial.suggest_int(key, dim.low, dim.high, log=dim.log)
            elif isinstance(dim, Range):
                params[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.log)
            else:
                index = trial.suggest_categorical(key, list(range(len(dim))))
                params[key] = dim[index]
        self.asked[trial.number] = trial
        return trial.number, params

    def tell(self, number: int, value: float | None) -> None:
        if self.optuna is None:
            return
        self.asked.pop(number, None)
        if value is None:
            self.study.tell(number, state=self.state.FAIL)
        else:
            self.study.tell(number, value)


def _spec(spec) -> Spec:
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return check(spec)
    return load(spec)


def _folder(out: str | Path | None, resume: str | Path | None) -> Path:
    if resume:
        folder = Path(resume)
        if not (folder / "spec.json").is_file():
            raise FileNotFoundError(f"--resume {folder}: no sweep there (no spec.json)")
        return folder
    folder = Path(out) if out else next_run_folder(Path("runs") / "sweep")
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file, not a folder")
    if folder.exists() and any(folder.iterdir()):
        raise ValueError(f"{folder} is not empty; choose another --out, or --resume {folder}")
    try:
        probe_writable(folder)
    except OSError as e:
        raise ValueError(f"cannot write the sweep to {folder} ({e.strerror})") from None
    return folder


def run(spec: str | Path | dict | Spec | None = None, client=None, *,
        workers: int | None = None, threads: int | None = None, scheduler: str | None = None,
        out: str | Path | None = None, resume: str | Path | None = None, plot: bool = False,
        trial: Callable[[dict], dict] = run_trial, progress: bool | None = None,
        timeout: float = CONNECT_TIMEOUT) -> dict:
    """Runs a sweep and returns its report (also ``report.json`` in its folder).

    ``spec``: a spec file, its dict or a Spec (None with ``resume``). ``client``: a Dask
    client to run on; else ``scheduler`` (an address), else ``workers`` = 0 (this process,
    no Dask) or a LocalCluster of ``workers`` (default cores // threads) processes of
    ``threads`` (default 1; all cores in this process) Numba threads. ``resume`` carries on
    the sweep in that folder. ``trial`` is the function each trial runs (importable by the
    workers). Ctrl-C raises SweepInterrupted after writing the finished trials."""
    folder = _folder(out, resume)
    if resume:
        spec = check(results.read_json(folder / "spec.json"), str(folder / "spec.json"))
    else:
        spec = _spec(spec)
        results.write_json(folder / "spec.json", spec.raw)
    if plot:
        results.pyplot()  # no matplotlib: say so now, not after the sweep
    rows = results.read_rows(folder / "trials.csv") if resume else []
    study = _Study(spec, folder, rows)
    in_process = client is None and scheduler is None and workers == 0
    threads = threads or (None if in_process else 1)
    with contextlib.ExitStack() as stack:
        if in_process:
            executor = InProcess(trial)
        else:
            if client is None:
                client = stack.enter_context(dask_client(workers, threads, scheduler, timeout))
            else:
                check_versions(client.get_versions(packages=list(VERSIONED)))
            executor = OnDask(client, trial)
        return _sweep(spec, study, executor, folder, rows, threads, plot, progress)


def _sweep(spec: Spec, study: _Study, executor, folder: Path, rows: list[dict],
           threads: int | None, plot: bool, progress: bool | None) -> dict:
    total = spec.total()
    table = results.LiveTable(spec, total, rows, progress)
    best = results.best_row(rows, spec)
    ran, started = [], time.perf_counter()
    overheads: list[float] = []
    table.start(executor.label, folder, threads)
    try:
        while study.remaining() or executor.running():
            while study.remaining() and executor.running() < executor.slots:
                number, params = study.ask()
                executor.submit({"number": number, "params": params,
                                 "options": spec.options(params), "metric": spec.metric,
                                 "direction": spec.direction, "threads": threads})
            table.running(executor.running())
            config, result, error, wall = executor.next()
            row = results.row(spec, config, result, error)
            study.tell(config["number"], None if error else result["value"])
            rows.append(row)
            ran.append(config["number"])
            if result is not None and isinstance(executor, OnDask):
                overheads.append(wall - result["total_seconds"])
            if result is not None and results.better(row, best, spec):
                best = row
                results.write_bytes(folder / "best.npz", result["model"])
            results.write_rows(folder / "trials.csv", spec, rows)
            table.finished(row, best, executor.running())
    except KeyboardInterrupt:
        executor.cancel()
        table.close()
        _report(spec, folder, rows, best, ran, started, executor, threads, overheads, True)
        raise SweepInterrupted(folder, len(rows), total) from None
    table.close()
    report = _report(spec, folder, rows, best, ran, started, executor, threads, overheads,
                     False)
    if plot:
        report["plot"] = str(results.plot(spec, rows, folder / "sweep.png"))
    return report


def _report(spec: Spec, folder: Path, rows: list[dict], best: dict | None, ran: list[int],
            started: float, executor, threads: int | None, overheads: list[float],
            interrupted: bool) -> dict:
    compile_seconds = [float(r["compile_seconds"]) for r in rows if r["compile_seconds"]]
    report = {
        "folder": str(folder), "space": list(spec.space), "method": spec.method,
        "metric": spec.metric, "direction": spec.direction, "trials": spec.total(),
        "finished": len(rows),
        "complete": sum(r["state"] == "complete" for r in rows),
        "failed": sum(r["state"] == "failed" for r in rows), "ran_now": ran,
        "interrupted": interrupted, "wall_seconds": time.perf_counter() - started,
        "executor": executor.label, "slots": executor.slots, "threads": threads,
        "compile_seconds": float(np.sum(compile_seconds)) if compile_seconds else 0.0,
        "dask_overhead_seconds_per_trial": float(np.mean(overheads)) if overheads else None,
        "best": best, "versions": {"fastnn": __version__, "numpy": np.__version__,
                                   "numba": numba.__version__, "python": sys.version.split()[0]},
    }
    results.write_json(folder / "report.json", report)
    return report
