"""The types of the command line's options: each checks a value when it is parsed, and argparse
names the option in the error (``argument --lr: must be a number in (0, inf), got 0``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def integer(minimum: int):
    """An argparse type: an integer >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}"
                                             ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    return parse


positive_int = integer(1)


def number(low: float, high: float = float("inf"), low_open: bool = False,
           high_open: bool = True):
    """An argparse type: a finite number in the interval low..high (open or closed ends)."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text!r}"
                                             ) from None
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text}")
        return value

    return parse


def batch_size_or_full(text: str) -> str:
    """An argparse type: an integer >= 1 or 'full'."""
    if text != "full":
        positive_int(text)
    return text


def widths(text: str) -> str:
    """An argparse type: comma-separated layer widths, each an integer >= 1."""
    for part in text.split(","):
        try:
            positive_int(part.strip())
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"must be widths like 20,7,5 (integers >= 1), "
                                             f"got {text!r}") from None
    return text


def new_file(path: str) -> Path:
    """An output path that holds nothing yet: results are never silently replaced."""
    out = Path(path)
    if out.exists():
        raise ValueError(f"{out} exists; give another name or remove it first")
    return out
