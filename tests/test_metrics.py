"""The classification report and its table."""

import numpy as np

from fastnn import metrics


def test_format_report_columns():
    report = metrics.classification_report(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]),
                                           ["a", "b", "c"])
    lines = metrics.format_report(report).splitlines()
    assert lines[-2].split() == ["accuracy", "0.750", "4"]
    assert lines[-2].index("0.750") == lines[0].index("f1") - 3
