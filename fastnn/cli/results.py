"""What ``fastnn train`` and ``fastnn evaluate`` show of a model's test results: counts in
words and the recall and confusion plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots


def count(n: int, word: str) -> str:
    """ "1 epoch", "2 epochs"."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def result_plots(result: dict, names: list[str], folder: str | Path, data: str) -> list[Path]:
    """recall.png and confusion.png of a classification report, written in ``folder``."""
    recall = [c["recall"] for c in result["classes"]]
    return [plots.recall_bars(recall, names, Path(folder) / "recall.png", dataset=data),
            plots.confusion_matrix(np.array(result["confusion_matrix"]), names,
                                   Path(folder) / "confusion.png", dataset=data)]
