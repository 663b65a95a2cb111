"""The pictures people look at after training: curves, per-class recall, confusion matrix.

Needs matplotlib (``pip install 'fastnn[plots]'``); files are PNG.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._io import atomic_open


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'fastnn[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(history: dict, path: str | Path, title: str = "training",
                    dataset: str | None = None) -> Path:
    """Loss and accuracy per epoch, train and validation, side by side."""
    plt = _pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, history[key], "o-" if len(epochs) < 30 else "-", label="train")
        if history.get(f"val_{key}"):
            ax.plot(epochs, history[f"val_{key}"], "s-" if len(epochs) < 30 else "-",
                    label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if len(epochs) < 15:
        for ax in (ax_loss, ax_acc):
            ax.set_xticks(epochs)
    fig.suptitle(_titled(title, dataset))
    fig.tight_layout()
    return _save(fig, path)


def _titled(title: str, dataset: str | None) -> str:
    return f"{dataset}: {title}" if dataset else title


def recall_axis(recall: list[float]) -> tuple[float, float]:
    """The recall plot's axis in percent: the data's range and a margin (15% of the range, at
    least half a point), within 0 to 100."""
    values = np.asarray(recall, dtype=np.float64) * 100
    if not len(values):
        return 0.0, 100.0
    lo, hi = float(values.min()), float(values.max())
    pad = max((hi - lo) * 0.15, 0.5)
    return max(0.0, lo - pad), min(100.0, hi + pad)


def recall_bars(recall: list[float], class_names: list[str], path: str | Path,
                title: str = "recall per class (test set)", dataset: str | None = None) -> Path:
    """Recall of each class as dots with their values, on an axis zoomed to the data (98.4%
    and 99.8% do not look alike), with the mean recall as a dashed line."""
    plt = _pyplot()
    with _fonts_for(class_names):
        values = np.asarray(recall, dtype=np.float64) * 100
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(class_names) + 2), 4))
        x = np.arange(len(values))
        bottom, top = recall_axis(recall)
        ax.vlines(x, bottom, values, color="tab:blue", alpha=0.35, linewidth=6)
        ax.plot(x, values, "o", color="tab:blue", markersize=7)
        for xi, v in zip(x, values):
            ax.annotate(f"{v:.1f}", (xi, v), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8)
        if len(values):
            mean = float(values.mean())
            ax.axhline(mean, color="tab:gray", linestyle="--", linewidth=1)
            ax.annotate(f"mean {mean:.1f}%", (1, mean), xycoords=("axes fraction", "data"),
                        xytext=(-4, 3), textcoords="offset points", ha="right", fontsize=8,
                        color="tab:gray")
        _class_ticks(ax.set_xticks, class_names)
        ax.set_xlim(-0.6, len(values) - 0.4)
        ax.set_ylim(bottom, top + (top - bottom) * 0.12)  # room for the labels
        ax.set_xlabel("class")
        ax.set_ylabel("recall (%)" + (f", axis from {bottom:.1f}" if bottom > 0 else ""))
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(_titled(title, dataset))
        fig.tight_layout()
        return _save(fig, path)


def confusion_matrix(cm: np.ndarray, class_names: list[str], path: str | Path,
                     title: str = "confusion matrix (test set)",
                     dataset: str | None = None) -> Path:
    """Counts of (true, predicted) classes. The errors get the colours (white for none, deep
    red for the most) with a colour bar as tall as the matrix; the correct counts on the
    diagonal are grey, so they no longer wash the errors out."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    with _fonts_for(class_names):
        cm = np.asarray(cm)
        k = len(class_names)
        diagonal = np.eye(k, dtype=bool)
        errors = np.ma.masked_where(diagonal, cm)
        most = max(int(errors.max()) if errors.count() else 0, 1)
        fig, ax = plt.subplots(figsize=(max(5, 0.55 * k + 2.5), max(4.5, 0.55 * k + 2)))
        ax.imshow(np.ma.masked_where(~diagonal, cm), cmap=ListedColormap(["#d9d9d9"]))
        im = ax.imshow(errors, cmap="Reds", vmin=0, vmax=most)
        cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.1)
        fig.colorbar(im, cax=cax, label="misclassified images")
        _class_ticks(ax.set_xticks, class_names)
        ax.set_yticks(range(k), class_names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        if k <= 20:
            for i in range(k):
                for j in range(k):
                    if i == j:
                        color, weight = "black", "bold"
                    else:
                        color, weight = ("white" if cm[i, j] > most / 2 else "black"), "normal"
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                            color=color, fontweight=weight)
        ax.set_title(_titled(title, dataset))
        fig.tight_layout()
        return _save(fig, path)


FRAMEWORK_COLORS = {"fastnn": "tab:blue", "pytorch": "tab:orange", "onnxruntime": "tab:green"}


def bench_curves(result: dict, path: str | Path) -> Path:
    """Log-log curves of a bench result (:mod:`fastnn.benchmark`): per network, seconds per
    call against the batch size for inference and for the training step, each framework in
    its color, a solid line on all threads and a dashed one on one thread. Loaded-machine rows
    are left out; networks benchmarked at several sizes get a panel of time against pixels."""
    rows = [r for r in result.get("rows", []) if r.get("status") == "ok" and not r["load"]]
    if not rows:
        raise ValueError("bench_curves needs a bench result with at least one timed row")
    own = {}
    for r in rows:
        own.setdefault(r["network"], r["size"])  # the plan lists a network's own size first
    sized = sorted({r["network"] for r in rows if r["size"] != own[r["network"]]})
    panels = [(net, task) for net in own for task in ("infer", "train")] + [
        (net, "size") for net in sized]
    top = max(r["threads"] for r in rows)
    plt = _pyplot()
    cols = 2
    fig, axes = plt.subplots((len(panels) + 1) // cols, cols, squeeze=False,
                             figsize=(10, 3.2 * ((len(panels) + 1) // cols)))
    for ax, (net, task) in zip(axes.flat, panels):
        lines: dict[tuple, list] = {}
        for r in rows:
            if r["network"] != net:
                continue
            if task == "size":
                if r["threads"] == top and r["batch"] == 32:
                    lines.setdefault((r["framework"], r["task"]), []).append(
                        (r["size"], r["median"]))
            elif r["task"] == task and r["size"] == own[net]:
                lines.setdefault((r["framework"], r["threads"]), []).append(
                    (r["batch"], r["median"]))
        for (fw, style), points in sorted(lines.items(), key=str):
            xs, ys = zip(*sorted(points))
            dashed = style == 1 if task != "size" else style == "infer"
            label = (f"{fw}, {style} thread{'s' if style != 1 else ''}" if task != "size"
                     else f"{fw}, {'inference' if style == 'infer' else 'train step'} b32")
            ax.plot(xs, ys, "o--" if dashed else "o-", color=FRAMEWORK_COLORS.get(fw),
                    label=label, markersize=4)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("image size (pixels a side)" if task == "size" else "batch size")
        ax.set_ylabel("seconds per step" if task == "train" else "seconds per call")
        ax.set_title(f"{net}: " + {"infer": "inference", "train": "training step",
                                   "size": "by image size"}[task], fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("fastnn bench: each framework alone in its own processes (medians; lower is "
                 "faster)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


# Families known to draw CJK, tried first; any other installed font that has the glyphs will do.
CJK_FAMILIES = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR",
                "Source Han Sans", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                "Droid Sans Fallback", "AR PL UMing CN", "Microsoft YaHei", "SimHei",
                "PingFang SC", "Hiragino Sans GB")
FONT_PACKAGES = ("Debian/Ubuntu: apt install fonts-noto-cjk; Fedora: dnf install "
                 "google-noto-sans-cjk-fonts; macOS and Windows ship CJK fonts")
_charmaps: dict[str, set[int]] = {}
_warned: set[str] = set()  # the warning about missing glyphs is given once per process


def _charmap(path: str) -> set[int]:
    if path not in _charmaps:
        from matplotlib import ft2font

        try:
            _charmaps[path] = set(ft2font.FT2Font(path).get_charmap())
        except (OSError, RuntimeError, ValueError):
            _charmaps[path] = set()
    return _charmaps[path]


def font_families(texts: list[str], stacklevel: int = 2) -> list[str] | None:
    """The font families to draw ``texts`` with: the default font, then one installed font
    that has every glyph the default one lacks; None when the default font draws them all.

    When no installed font has them, one warning says which font package to install (and the
    names are drawn as boxes: matplotlib's own per-glyph warnings are then left out).
    """
    from matplotlib import font_manager

    default = font_manager.findfont(font_manager.FontProperties())
    missing = {ord(c) for t in texts for c in t if not c.isspace()} - _charmap(default)
    if not missing:
        return None
    default_family = font_manager.FontProperties(fname=default).get_name()
    fonts = [f for f in font_manager.fontManager.ttflist if "Last Resort" not in f.name]
    fonts.sort(key=lambda f: (f.name not in CJK_FAMILIES, f.name))
    for f in fonts:
        if missing <= _charmap(f.fname):
            return [default_family, f.name]
    # a font installed after matplotlib built its font cache is not in ttflist yet
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for fname in sorted(set(font_manager.findSystemFonts()) - known):
        if missing <= _charmap(fname):
            font_manager.fontManager.addfont(fname)
            return [default_family, font_manager.FontProperties(fname=fname).get_name()]
    chars = "".join(sorted(chr(c) for c in missing))[:20]
    if chars in _warned:
        return []
    _warned.add(chars)
    import warnings

    warnings.warn(f"no installed font can draw {chars!r} in the class names, so the plots show "
                  f"them as empty boxes; install a font that has them ({FONT_PACKAGES})",
                  stacklevel=stacklevel)
    return []


@contextmanager
def _fonts_for(texts: list[str]) -> Iterator[None]:
    """Draws texts (class names) in a font that has their glyphs (see :func:`font_families`)."""
    import warnings

    import matplotlib

    families = font_families(texts, stacklevel=5)  # the caller of recall_bars etc.
    with matplotlib.rc_context({"font.family": families} if families else {}), \
            warnings.catch_warnings():
        if families == []:  # already said once, in one warning
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        yield


def _class_ticks(set_ticks, names: list[str]) -> None:
    """Class names as tick labels, slanted when they would not fit side by side."""
    crowded = sum(len(n) + 1 for n in names) > 40
    set_ticks(range(len(names)), names, rotation=45 if crowded else 0,
              ha="right" if crowded else "center")


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_open(path) as f:
        fig.savefig(f, dpi=100, format="png")
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
