"""The plots' axes and their class names in any script (a font that has them, or one warning
that names the package to install)."""

import warnings

import numpy as np
import pytest
from numerals import NUMERALS

from fastnn import plots


def test_recall_axis_zooms_to_the_data():
    assert plots.recall_axis([0.984, 0.998]) == pytest.approx((97.9, 100.0))
    bottom, top = plots.recall_axis([0.5, 1.0])
    assert bottom == pytest.approx(42.5) and top == 100
    assert plots.recall_axis([0.0, 0.01]) == (0.0, pytest.approx(1.5))


def test_plot_names_drawn_with_a_font_that_has_them(tmp_path):
    """U+210A is not in the default font (DejaVu Sans) but in fonts matplotlib ships: the
    plots fall back to such a font and matplotlib draws no empty box (it would warn)."""
    names = ["a", "\u210a"]
    families = plots.font_families(names)
    assert families is not None and families[0] == "DejaVu Sans" and len(families) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.recall_bars([0.5, 1.0], names, tmp_path / "recall.png")
        plots.confusion_matrix(np.eye(2, dtype=int), names, tmp_path / "confusion.png")
    assert plots.font_families(["plain", "ascii"]) is None


def test_plot_names_without_a_font_warn_once_naming_the_package(tmp_path, monkeypatch):
    from matplotlib import font_manager

    no_cjk = [f for f in font_manager.fontManager.ttflist  # as on a machine without CJK fonts
              if "Last Resort" in f.name or ord("零") not in plots._charmap(f.fname)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", no_cjk)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    monkeypatch.setattr(plots, "_warned", set())
    names = NUMERALS.split(",")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        plots.recall_bars([1.0] * 15, names, tmp_path / "recall.png")
        plots.confusion_matrix(np.eye(15, dtype=int), names, tmp_path / "confusion.png")
    messages = [str(m.message) for m in w]
    assert len(messages) == 1, messages
    assert "no installed font can draw" in messages[0] and "fonts-noto-cjk" in messages[0]
    assert w[0].filename == __file__  # points at the plotting call, not into fastnn
    assert (tmp_path / "confusion.png").stat().st_size > 1000
