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
