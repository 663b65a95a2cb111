"""Classification metrics: confusion matrix, per-class precision, recall and F1."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """(k, k) int64 counts: rows are true classes, columns predicted ones."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def classification_report(y_true: np.ndarray, y_pred: np.ndarray,
                          class_names: list[str]) -> dict:
    """Per-class precision, recall, F1 and support, plus accuracy and macro averages."""
    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, k)
    tp = np.diag(cm).astype(np.float64)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "classes": [{"name": name, "precision": float(precision[i]), "recall": float(recall[i]),
                     "f1": float(f1[i]), "support": int(support[i])}
                    for i, name in enumerate(class_names)],
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()),
                  "f1": float(f1.mean())},
        "confusion_matrix": cm.tolist(),
    }


def format_report(report: dict) -> str:
    """The per-class table, then accuracy (in the f1 column, over all images) and the macro
    averages, every number under its header."""
    width = max(12, *(len(c["name"]) for c in report["classes"]))
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for c in report["classes"]:
        lines.append(f"{c['name']:<{width}}  {c['precision']:9.3f}  {c['recall']:6.3f}  "
                     f"{c['f1']:5.3f}  {c['support']:7d}")
    total = sum(c["support"] for c in report["classes"])
    m = report["macro"]
    lines.append("")
    lines.append(f"{'accuracy':<{width}}  {'':9}  {'':6}  {report['accuracy']:5.3f}  {total:7d}")
    lines.append(f"{'macro avg':<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  "
                 f"{m['f1']:5.3f}  {total:7d}")
    return "\n".join(lines)


# --- metrics shown during fit (Keras's metrics=[...]) ---------------------------------------


class Metric:
    """A per-sample score that ``fit`` averages over each epoch (and the validation data):
    ``count(logits, labels, predicted)`` is the batch's sum; ``name`` its key in the history
    (``val_`` + name for the validation data)."""

    name = ""

    def count(self, logits: np.ndarray, y: np.ndarray, predicted: np.ndarray) -> float:
        raise NotImplementedError


class Accuracy(Metric):
    """The share of samples whose predicted class is the label (always in the history)."""

    name = "accuracy"

    def count(self, logits, y, predicted):
        return float(np.sum(predicted == y))


class TopK(Metric):
    """The share of samples whose label is among the ``k`` likeliest classes (logits (N, K),
    labels (N,)); Keras's ``top_k_categorical_accuracy`` (k=5)."""

    def __init__(self, k: int = 5) -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"TopK k must be an integer >= 1, got {k!r}")
        self.k = k
        self.name = f"top_{k}_accuracy"

    def count(self, logits, y, predicted):
        if logits.shape[1] <= self.k:
            return float(len(y))
        top = np.argpartition(-logits, self.k - 1, axis=1)[:, : self.k]
        return float(np.sum(top == np.asarray(y)[:, None]))


_ACCURACY = {"accuracy", "acc", "categorical_accuracy", "sparse_categorical_accuracy"}
_TOP_K = {"top_k", "top_k_accuracy", "top_k_categorical_accuracy",
          "sparse_top_k_categorical_accuracy"}


def get(metric: str | Metric) -> Metric:
    """A metric from Keras's names: ``"accuracy"`` (``"acc"``, ``"categorical_accuracy"``,
    ``"sparse_categorical_accuracy"``), ``"top_k"`` (``"top_k_categorical_accuracy"``..., k=5),
    ``"top_3"`` (any k), or a :class:`Metric`."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric in _ACCURACY:
            return Accuracy()
        if metric in _TOP_K:
            return TopK()
        if metric.startswith("top_") and metric[4:].isdigit():
            return TopK(int(metric[4:]))
    raise ValueError(f"unknown metric {metric!r}; fastnn has 'accuracy' (always shown), "
                     f"'top_k' (k=5), 'top_3' (any k), or a fastnn.metrics.Metric")


def get_all(metrics) -> list[Metric]:
    """The metrics besides accuracy (which every run has), each once, in the order given."""
    if metrics is None:
        return []
    if isinstance(metrics, str | Metric):
        metrics = [metrics]
    found: dict[str, Metric] = {}
    for m in metrics:
        m = get(m)
        if not isinstance(m, Accuracy):
            found.setdefault(m.name, m)
    return list(found.values())
