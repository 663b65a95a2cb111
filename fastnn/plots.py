"""The pictures people look at after training: curves, per-class recall, confusion matrix.

Needs matplotlib (``pip install 'fastnn[plots]'``); files are PNG.
"""

from __future__ import annotations

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
