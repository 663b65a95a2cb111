"""The bench's result file (format 2), its tables, and ``compare``.

A result is a JSON object::

    {"format": "fastnn-bench", "version": 2,
     "environment": {...},          # fastnn.benchmark.machine.environment(), plus runtime
     "settings": {...},             # rounds, budget, optimizer, the cells run
     "matmul_peak_gflops": {"1": ..., "2": ...},   # by thread count
     "rows": [...],                 # one per network, size, threads, load, task, batch, framework
     "kernels": [...]}              # one per kernel case and implementation

Every row holds ``processes`` (each process's best seconds per call, or per training step),
their ``min``, ``median`` and ``spread`` ((max - min) / median), a ``status`` ("ok",
"missing": the comparator is not installed, "failed": it crashed or hung) and the ``reason``.
Ratios are fastnn's time over the other's: lower is better.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from . import machine

FORMAT = "fastnn-bench"
VERSION = 2
NOISY = 0.10  # a spread above this on either side makes a ratio untrustworthy
ROW_KEYS = {"network": str, "size": int, "threads": int, "load": bool, "task": str,
            "batch": int, "framework": str, "status": str, "processes": list}
KERNEL_KEYS = {"case": str, "implementation": str, "threads": int, "status": str,
               "processes": list}
CELL_KEYS = {"network": str, "size": int, "threads": int, "load": bool, "infer": list | tuple,
             "train": list | tuple}
OTHERS = ("pytorch", "keras", "onnxruntime")


class BenchFileError(ValueError):
    """A file that is not a bench result this fastnn can read."""


def with_stats(row: dict) -> dict:
    """The row with the min, median and spread of its processes' times (None without any)."""
    t = row["processes"]
    return row | {"min": min(t) if t else None, "median": statistics.median(t) if t else None,
                  "spread": (max(t) - min(t)) / statistics.median(t) if len(t) > 1 else None}


def make(env: dict, settings: dict, peaks: dict, rows: list[dict], kernels: list[dict]) -> dict:
    return {"format": FORMAT, "version": VERSION, "environment": env, "settings": settings,
            "matmul_peak_gflops": peaks, "rows": rows, "kernels": kernels}


def load(path: str | Path) -> dict:
    """A result file, checked; a BenchFileError that names the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise BenchFileError(f"{path}: cannot read it ({e})") from None
    if not text.strip():
        raise BenchFileError(f"{path} is empty: not a fastnn bench result")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BenchFileError(f"{path} is not JSON ({e.msg} at line {e.lineno}): not a "
                             "fastnn bench result") from None
    return validate(data, str(path))


def validate(data: object, name: str = "result") -> dict:
    if not isinstance(data, dict):
        raise BenchFileError(f"{name} is not a fastnn bench result (a JSON object is expected)")
    if data.get("format") != FORMAT:
        if "zoo" in data and "kernels" in data:
            raise BenchFileError(f"{name} is a bench result of format 1 (fastnn and PyTorch "
                                 f"timed in one process); compare reads format {VERSION}: run "
                                 "`fastnn bench` again")
        raise BenchFileError(f"{name} is not a fastnn bench result (no \"format\": "
                             f"\"{FORMAT}\")")
    if data.get("version") != VERSION:
        raise BenchFileError(f"{name} is a bench result of format {data.get('version')!r}; "
                             f"this fastnn reads format {VERSION}")
    for part, keys in (("rows", ROW_KEYS), ("kernels", KERNEL_KEYS)):
        rows = data.get(part)
        if not isinstance(rows, list):
            raise BenchFileError(f"{name}: \"{part}\" is missing or not a list")
        for i, row in enumerate(rows):
            bad = [k for k, kind in keys.items() if not isinstance(row, dict)
                   or not isinstance(row.get(k), kind)]
            if not bad and any(not isinstance(t, int | float) or isinstance(t, bool)
                               or not t > 0 for t in row["processes"]):
                bad = ["processes"]
            if not bad and row["status"] == "ok" and not row["processes"]:
                bad = ["processes (none, yet the status is ok)"]
            if bad:
                raise BenchFileError(f"{name}: {part}[{i}] has no valid {', '.join(bad)}")
            rows[i] = with_stats(row)  # derived, not trusted
    if not isinstance(data.get("environment"), dict):
        raise BenchFileError(f"{name}: \"environment\" is missing")
    settings, peaks = data.get("settings"), data.get("matmul_peak_gflops")
    if not (isinstance(settings, dict) and isinstance(settings.get("rounds"), int)
            and isinstance(settings.get("optimizer"), str)
            and isinstance(settings.get("cells"), list)):
        raise BenchFileError(f"{name}: \"settings\" (rounds, optimizer, cells) is missing")
    for i, cell in enumerate(settings["cells"]):
        if not (isinstance(cell, dict) and all(isinstance(cell.get(k), kind)
                                               for k, kind in CELL_KEYS.items())):
            raise BenchFileError(f"{name}: settings.cells[{i}] is not a valid cell")
    if not (isinstance(peaks, dict) and all(isinstance(v, int | float) for v in peaks.values())):
        raise BenchFileError(f"{name}: \"matmul_peak_gflops\" is missing")
    return data


def row_key(row: dict) -> tuple:
    if "case" in row:
        return ("kernel", row["case"], row["implementation"], row["threads"])
    return (row["network"], row["size"], row["threads"], row["load"], row["task"],
            row["batch"], row["framework"])


def row_name(row: dict) -> str:
    if "case" in row:
        return f"kernel {row['case']} [{row['implementation']}, {row['threads']}t]"
    return (f"{row['network']}@{row['size']} {row['task']} b{row['batch']} "
            f"{row['threads']}t{' loaded' if row['load'] else ''} [{row['framework']}]")


# --- tables ---------------------------------------------------------------------------------


def seconds(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 1:
        return f"{v:.2f} s"
    return f"{v * 1e3:.2f} ms" if v >= 1e-3 else f"{v * 1e6:.1f} us"


def format_table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table; seconds shown in s, ms or us, other numbers to 3 digits."""

    def cell(key: str, v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, str):
            return v
        if "/" in key or "%" in key or "GFLOP" in key or "error" in key or "images" in key:
            return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"
        return seconds(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(c, row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def _index(result: dict) -> dict[tuple, dict]:
    return {row_key(r)[:-1] + (r["framework"],): r for r in result["rows"]}


def _ratio(mine: dict | None, other: dict | None) -> str:
    """fastnn / other as "median (min)", "~" where either side's spread is too wide, or the
    reason the other side has no figure."""
    if mine is None or other is None:
        return "-"
    if other["status"] != "ok":
        return f"({other['status']})"
    if mine["status"] != "ok":
        return "-"
    noisy = any((r["spread"] or 0) > NOISY for r in (mine, other))
    return (f"{mine['median'] / other['median']:.3g} ({mine['min'] / other['min']:.3g})"
            + ("~" if noisy else ""))


def _time(row: dict | None) -> str:
    if row is None:
        return "-"
    if row["status"] != "ok":
        return row["status"]
    return seconds(row["median"])


def headline(result: dict) -> list[dict]:
    """Per network at its own size, all threads, idle: the batch-32 training step, inference
    of 256 images and batch-1 latency, each framework's median and fastnn's ratios, the last
    against the fastest other framework of the row (by median)."""
    idx, out = _index(result), []
    others = [o for o in OTHERS if any(r["framework"] == o for r in result["rows"])]
    cells = [c for c in result["settings"].get("cells", []) if not c["load"]]
    top = max((c["threads"] for c in cells), default=None)
    peak = result["matmul_peak_gflops"].get(str(top))
    for c in cells:
        if c["threads"] != top or c["size"] != _native(c["network"], cells):
            continue
        base = (c["network"], c["size"], top, False)
        for task, batch, label in (("train", 32, "train step, batch 32"),
                                   ("infer", 256, "inference, 256 images"),
                                   ("infer", 1, "latency, 1 image")):
            mine = idx.get(base + (task, batch, "fastnn"))
            if mine is None:
                continue
            row = {"network": c["network"], "case": label, "fastnn": _time(mine)}
            for other in others:
                theirs = idx.get(base + (task, batch, other))
                row[other] = _time(theirs)
                row[f"fastnn/{other}"] = _ratio(mine, theirs)
            timed = {o: r for o in others if (r := idx.get(base + (task, batch, o)))
                     and r["status"] == "ok"}
            best = min(timed, key=lambda o: timed[o]["median"], default=None)
            row["best other"] = best or "-"
            row["fastnn/best"] = _ratio(mine, timed[best]) if best else "-"
            if peak and mine["status"] == "ok" and mine["flops"] and task == "train":
                row["% of peak"] = 100 * mine["flops"] / mine["min"] / 1e9 / peak
            out.append(row)
    return out


def _native(network: str, cells: list[dict]) -> int:
    """A network's own size: the plan lists it first."""
    return next(c["size"] for c in cells if c["network"] == network)


def scaling(result: dict) -> list[tuple[str, list[dict]]]:
    """Per cell: every case with each framework's median time, fastnn's ratios, images per
    second and the widest spread."""
    idx, out = _index(result), []
    for c in result["settings"].get("cells", []):
        base = (c["network"], c["size"], c["threads"], c["load"])
        title = (f"{c['network']} at {c['size']}x{c['size']}, {c['threads']} thread"
                 f"{'s' if c['threads'] > 1 else ''}{', one core busy' if c['load'] else ''}")
        rows = []
        for task, batches in (("infer", c["infer"]), ("train", c["train"])):
            for b in batches:
                mine = idx.get(base + (task, b, "fastnn"))
                row = {"task": f"{task} b{b}", "fastnn": _time(mine)}
                spreads = [mine["spread"] or 0] if mine and mine["status"] == "ok" else []
                for other in OTHERS:
                    theirs = idx.get(base + (task, b, other))
                    if theirs is not None:
                        row[other] = _time(theirs)
                        row[f"fastnn/{other}"] = _ratio(mine, theirs)
                        if theirs["status"] == "ok":
                            spreads.append(theirs["spread"] or 0)
                if mine and mine["status"] == "ok":
                    row["fastnn images/s"] = b / mine["median"]
                row["spread %"] = 100 * max(spreads) if spreads else None
                rows.append(row)
        out.append((title, rows))
    return out


def curves(result: dict, other: str) -> list[dict]:
    """fastnn's time over ``other``'s (medians) per cell as the batch grows, idle cells only:
    the cost curves of the scaling tables in one line per network, size and thread count."""
    idx, out = _index(result), []
    for c in result["settings"].get("cells", []):
        if c["load"]:
            continue
        base = (c["network"], c["size"], c["threads"], False)
        row = {"network": f"{c['network']}@{c['size']}", "threads": str(c["threads"])}
        for task, batches in (("infer", c["infer"]), ("train", c["train"])):
            for b in batches:
                theirs = idx.get(base + (task, b, other))
                if theirs is not None:
                    ratio = _ratio(idx.get(base + (task, b, "fastnn")), theirs)
                    row[f"{task} b{b}"] = ratio.split(" ")[0] + ("~" if ratio[-1] == "~" else "")
        if len(row) > 2:
            out.append(row)
    return out


def loaded(result: dict) -> list[dict]:
    """Loaded time over idle time (medians) per network, case and framework."""
    idx, out = _index(result), []
    for r in result["rows"]:
        if not r["load"] or r["status"] != "ok":
            continue
        idle = idx.get((r["network"], r["size"], r["threads"], False, r["task"], r["batch"],
                        r["framework"]))
        if idle and idle["status"] == "ok":
            out.append({"network": r["network"], "case": f"{r['task']} b{r['batch']}",
                        "framework": r["framework"], "idle": idle["median"],
                        "one core busy": r["median"], "loaded/idle": r["median"] / idle["median"]})
    return out


def kernels(result: dict) -> list[dict]:
    """Per kernel case: each implementation's median time and numba's ratios."""
    by_case: dict[str, dict] = {}
    for r in result["kernels"]:
        by_case.setdefault(r["case"], {})[r["implementation"]] = r
    out = []
    for case, impls in by_case.items():
        row = {"case": case}
        for impl, r in impls.items():
            row[impl] = _time(r)
        for other in ("reference", "numpy-im2col"):
            if "numba" in impls and other in impls:
                row[f"numba/{other}"] = _ratio(impls["numba"], impls[other])
        out.append(row)
    return out


def columns(rows: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def report(result: dict) -> str:
    """Every table of a result, as Markdown, under a one-line summary of the machine."""
    s = result["settings"]
    peaks = ", ".join(f"{v:.0f} GFLOP/s on {t} thread{'s' if t != '1' else ''}"
                      for t, v in result["matmul_peak_gflops"].items())
    parts = [f"fastnn bench: {machine.summary(result['environment'])}",
             f"{s['rounds']} processes per framework and cell, taking turns; optimizer "
             f"{s['optimizer']}; float32 matmul peak (NumPy) {peaks or 'not measured'}.",
             "Times are medians over the processes; ratios are fastnn's time over the other's "
             "as median (min), lower is better; ~ marks a ratio where a side's processes spread "
             f"by more than {NOISY:.0%} (a noisy machine: take it with care)."]
    missing = {(r["framework"], r["reason"]) for r in result["rows"] if r["status"] != "ok"}
    parts += [f"{fw}: {why}" for fw, why in sorted(missing, key=str)]
    head = headline(result)
    if head:
        parts += ["\nThe zoo, all threads, idle machine:\n",
                  format_table(head, columns(head))]
    for other in OTHERS:
        rows = curves(result, other)
        if rows:
            parts += [f"\nfastnn/{other} as the work grows (medians; ~ noisy, (status) where "
                      f"{other} has no time):\n", format_table(rows, columns(rows))]
    for title, rows in scaling(result):
        parts += [f"\n{title}:\n", format_table(rows, columns(rows))]
    load = loaded(result)
    if load:
        parts += ["\nOne core kept busy by another process (medians):\n",
                  format_table(load, columns(load))]
    kern = kernels(result)
    if kern:
        parts += ["\nKernels (batch 32, float32, MNIST CNN shapes; each implementation in its own "
                  "processes):\n", format_table(kern, columns(kern))]
    return "\n".join(parts)


# --- compare --------------------------------------------------------------------------------


def parse_threshold(text: str) -> float:
    """"10%" or "10" -> 0.10; a ValueError names a bad value."""
    try:
        value = float(str(text).strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"--fail-above {text!r}: give a percentage such as 10%") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"--fail-above {text!r}: give a percentage of 0 or more")
    return value / 100


def compare(old: dict, new: dict, fail_above: float | None = None,
            stat: str = "min") -> tuple[str, list[str], list[str]]:
    """Each row both results share: old and new ``stat`` time and the change. Returns the
    table, the names of rows slower by more than ``fail_above`` (a fraction), and warnings
    (different machines, rows only in one file)."""
    if stat not in ("min", "median"):
        raise ValueError(f"--stat {stat!r}: min or median")
    warnings = []
    a, b = machine.machine_key(old["environment"]), machine.machine_key(new["environment"])
    if a != b:
        diff = ", ".join(f"{k} {a[k]} / {b[k]}" for k in a if a[k] != b[k])
        warnings.append(f"the two results come from different machines ({diff}): their "
                        "times are not comparable")
    olds = {row_key(r): r for r in old["rows"] + old["kernels"]}
    news = {row_key(r): r for r in new["rows"] + new["kernels"]}
    rows, slower = [], []
    for key, n in news.items():
        o = olds.get(key)
        if o is None:
            continue
        entry = {"row": row_name(n), "old": o.get(stat) if o["status"] == "ok" else o["status"],
                 "new": n.get(stat) if n["status"] == "ok" else n["status"]}
        if o["status"] == "ok" and n["status"] == "ok":
            change = n[stat] / o[stat] - 1
            entry["change %"] = f"{100 * change:+.1f}"
            if fail_above is not None and change > fail_above:
                entry["change %"] += " SLOWER"
                slower.append(row_name(n))
        rows.append(entry)
    only_old = [row_name(r) for k, r in olds.items() if k not in news]
    only_new = [row_name(r) for k, r in news.items() if k not in olds]
    if only_old or only_new:
        warnings.append(f"{len(only_old)} rows only in the old result, {len(only_new)} only in "
                        "the new: not compared")
    if not rows:
        warnings.append("the two results share no row")
    return format_table(rows, ["row", "old", "new", "change %"]), slower, warnings
