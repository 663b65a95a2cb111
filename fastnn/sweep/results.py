"""What a sweep writes (each file atomically, with :mod:`fastnn._io`) and shows: the rows of
``trials.csv``, ``report.json``, ``best.npz``, the live table with its progress bar, and the
plot of ``--plot``."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from .. import plots
from .._io import atomic_open, atomic_write_text
from .spec import Spec

TIMES = ("seconds", "compile_seconds", "host", "pid", "numba_threads", "attempt")


def columns(spec: Spec) -> list[str]:
    """trials.csv's header: the trial, its parameters, the metric (best epoch) and per epoch,
    the times, where it ran, and the error of a failed trial."""
    return (["number", "state", *spec.space, spec.metric, f"{spec.metric}_per_epoch",
             "best_epoch", "epochs", *TIMES, "error"])


def _text(value) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def row(spec: Spec, config: dict, result: dict | None, error: BaseException | None) -> dict:
    """One trial's row of trials.csv (every value a string, as read back)."""
    out = {"number": str(config["number"]), "state": "failed" if error else "complete"}
    out |= {k: _text(config["params"][k]) for k in spec.space}
    r = result or {}
    out |= {spec.metric: _text(r.get("value")),
            f"{spec.metric}_per_epoch": " ".join(repr(v) for v in r.get("values", [])),
            "best_epoch": _text(r.get("best_epoch")), "epochs": _text(r.get("epochs")),
            "seconds": f"{r['seconds']:.3f}" if r else "",
            "compile_seconds": f"{r['compile_seconds']:.3f}" if r else "",
            "host": _text(r.get("host")), "pid": _text(r.get("pid")),
            "numba_threads": _text(r.get("threads")),
            "attempt": str(config.get("attempt", 1)),
            "error": f"{type(error).__name__}: {error}".replace("\n", " ") if error else ""}
    return out


def better(row: dict, best: dict | None, spec: Spec) -> bool:
    if row["state"] != "complete" or not math.isfinite(float(row[spec.metric])):
        return False
    if best is None:
        return True
    new, old = float(row[spec.metric]), float(best[spec.metric])
    return new > old if spec.direction == "maximize" else new < old


def best_row(rows: list[dict], spec: Spec) -> dict | None:
    best = None
    for r in rows:
        best = r if better(r, best, spec) else best
    return best


def write_rows(path: Path, spec: Spec, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns(spec), lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda r: int(r["number"])))
    atomic_write_text(path, text.getvalue())


def read_rows(path: Path) -> list[dict]:
    """The finished trials of a sweep being resumed (none if it has no trials.csv yet)."""
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            int(r["number"])
            r["state"]  # noqa: B018
    except (OSError, ValueError, KeyError, csv.Error, TypeError) as e:
        raise ValueError(f"{path}: not a sweep's trials.csv ({e})") from None
    return rows


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, default=str))


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not readable JSON ({e})") from None


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def _short(value: str, width: int = 12) -> str:
    return value if len(value) <= width else value[: width - 1] + "~"


class LiveTable:
    """One line per finished trial (stdout) under a header, and a progress bar (stderr, on a
    terminal) that says how many trials run and failed and the best so far."""

    def __init__(self, spec: Spec, total: int, rows: list[dict], progress: bool | None):
        self.spec, self.total = spec, total
        self.failed = sum(r["state"] == "failed" for r in rows)
        self.keys = list(spec.space)
        self.bar = tqdm(total=total, initial=len(rows), file=sys.stderr, unit="trial",
                        disable=(not sys.stderr.isatty()) if progress is None else not progress,
                        dynamic_ncols=True, leave=False)
        self.best = best_row(rows, spec)

    def _line(self, cells: list[str]) -> str:
        return "  ".join(f"{c:>12}" for c in cells)

    def start(self, where: str, folder: Path, threads: int | None) -> None:
        done = self.bar.n
        tqdm.write(f"sweep: {self.spec.method}, {self.total} trials"
                   + (f" ({done} finished before)" if done else "")
                   + f", {self.spec.metric} to {self.spec.direction}, in {where}"
                   + (f", {threads} Numba thread{'s' if threads != 1 else ''} each"
                      if threads else "") + f"; writing {folder}", file=sys.stdout)
        tqdm.write(self._line(["trial", *self.keys, self.spec.metric, "epochs", "seconds",
                               "compile s", "state"]), file=sys.stdout)
        self._status(0)

    def _status(self, running: int) -> None:
        best = (f"{float(self.best[self.spec.metric]):.4g} (trial {self.best['number']})"
                if self.best else "-")
        self.bar.set_postfix_str(f"running {running}, failed {self.failed}, best {best}")

    def running(self, n: int) -> None:
        self._status(n)

    def finished(self, row: dict, best: dict | None, running: int) -> None:
        self.failed += row["state"] == "failed"
        self.best = best
        metric = row[self.spec.metric]
        tqdm.write(self._line([row["number"], *(_short(row[k]) for k in self.keys),
                               f"{float(metric):.4f}" if metric else "-", row["epochs"] or "-",
                               row["seconds"] or "-", row["compile_seconds"] or "-",
                               row["state"] + ("" if row["state"] == "complete" else
                                               f": {row['error'][:60]}")]), file=sys.stdout)
        self.bar.update(1)
        self._status(running)

    def close(self) -> None:
        self.bar.close()


def pyplot():
    return plots._pyplot()


def plot(spec: Spec, rows: list[dict], path: Path) -> Path:
    """The metric per trial with the best so far, and the metric against each parameter."""
    plt = pyplot()
    done = sorted((r for r in rows if r["state"] == "complete"), key=lambda r: int(r["number"]))
    numbers = [int(r["number"]) for r in done]
    values = [float(r[spec.metric]) for r in done]
    pick = max if spec.direction == "maximize" else min
    so_far = [pick(values[: i + 1]) for i in range(len(values))]
    keys = list(spec.space)
    fig, axes = plt.subplots(1, 1 + len(keys), figsize=(4 * (1 + len(keys)), 3.4),
                             squeeze=False)
    ax = axes[0][0]
    ax.plot(numbers, values, "o", label="trial")
    ax.step(numbers, so_far, where="post", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.metric)
    ax.legend()
    for ax, key in zip(axes[0][1:], keys):
        xs = [r[key] for r in done]
        numeric = all(_is_number(x) for x in xs)
        ax.plot([float(x) for x in xs] if numeric else xs, values, "o")
        dim = spec.space[key]
        if numeric and getattr(dim, "log", False):
            ax.set_xscale("log")
        ax.set_xlabel(key)
    fig.suptitle(f"sweep: {spec.metric} ({spec.direction})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
