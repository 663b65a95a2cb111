"""Sliding-window geometry, computed in one place: output sizes, "same" padding, pad and crop.

Every convolution and pooling kernel (both backends), the argument checks and the layers take
their sizes from here. A window of size K slides with ``stride`` over an input of size S
padded by P zeros on each side: ``out = (S + 2P - K) // stride + 1``.
"""

from __future__ import annotations

import numpy as np


def out_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a window k sliding over size + 2*padding; < 1 where it does not fit."""
    return (size + 2 * padding - k) // stride + 1


def out_hw(h: int, w: int, kh: int, kw: int, stride: int = 1, padding: int = 0) -> tuple[int, int]:
    """(OH, OW) of a KH x KW window over an H x W input."""
    return out_size(h, kh, stride, padding), out_size(w, kw, stride, padding)


def same_padding(k: int) -> int:
    """The padding that keeps the size at stride 1 ("same"): (k - 1) / 2, for odd k only."""
    if k % 2 == 0:
        raise ValueError(f'padding="same" needs an odd kernel size, got {k}')
    return (k - 1) // 2


def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """x (N, C, H, W) with ``padding`` zeros around each plane (x itself when 0)."""
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def crop(xp: np.ndarray, padding: int, h: int, w: int) -> np.ndarray:
    """The inverse of :func:`pad`: the (H, W) interior of xp, contiguous."""
    if padding == 0:
        return xp
    return np.ascontiguousarray(xp[:, :, padding : padding + h, padding : padding + w])
