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


def training_curves(history: dict, path: str | Path, title: str = "training") -> Path:
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
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def recall_bars(recall: list[float], class_names: list[str], path: str | Path,
                title: str = "recall per class (test set)") -> Path:
    plt = _pyplot()
    with _fonts_for(class_names):
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(class_names) + 2), 4))
        bars = ax.bar(range(len(recall)), np.asarray(recall) * 100, color="tab:blue")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        _class_ticks(ax.set_xticks, class_names)
        ax.set_ylim(0, 105)
        ax.set_xlabel("class")
        ax.set_ylabel("recall (%)")
        ax.set_title(title)
        fig.tight_layout()
        return _save(fig, path)


def confusion_matrix(cm: np.ndarray, class_names: list[str], path: str | Path,
                     title: str = "confusion matrix (test set)") -> Path:
    plt = _pyplot()
    with _fonts_for(class_names):
        cm = np.asarray(cm)
        k = len(class_names)
        fig, ax = plt.subplots(figsize=(max(5, 0.55 * k + 2.5), max(4.5, 0.55 * k + 2)))
        im = ax.imshow(cm, cmap="Blues")
        fig.colorbar(im, ax=ax, label="images")
        _class_ticks(ax.set_xticks, class_names)
        ax.set_yticks(range(k), class_names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        if k <= 20:
            threshold = cm.max() / 2
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                            color="white" if cm[i, j] > threshold else "black")
        ax.set_title(title)
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
