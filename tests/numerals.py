"""The classic tutorial's numerals (15 classes, 零 to 亿) as test data: 64x64 images with a
bright block at a place of their own, a flat folder of them labelled by name, and the arrays
of its .mat file (rows unrolled in Fortran order, labels 1..15)."""

import numpy as np
from PIL import Image

NUMERALS = "零,一,二,三,四,五,六,七,八,九,十,百,千,万,亿"


def numeral_image(label: int, rng) -> np.ndarray:
    """A 64x64 uint8 image for class 1..15: a bright 16x16 block at a place of its own."""
    img = rng.integers(0, 40, (64, 64)).astype(np.uint8)
    r, c = divmod(label - 1, 4)
    img[r * 16 : r * 16 + 16, c * 16 : c * 16 + 16] = 220
    return img


def numeral_folder(root, per_class: int = 6, k: int = 15, seed: int = 0):
    """The tutorial's flat folder: input_<a>_<b>_<label>.jpg, labels 1..k."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for label in range(1, k + 1):
        for i in range(per_class):
            Image.fromarray(numeral_image(label, rng)).save(
                root / f"input_{i + 1}_{label * 7 % 5}_{label}.jpg", quality=95)
    return root


def tutorial_mat_arrays(m: int = 30, mt: int = 15, k: int = 15, seed: int = 0):
    """Images (N, 64, 64) in [0, 1], labels 1..k, rows unrolled in Fortran order."""
    rng = np.random.default_rng(seed)
    y = rng.integers(1, k + 1, m + mt)
    y[:k] = np.arange(1, k + 1)  # every class in the training part
    images = np.stack([numeral_image(int(c), rng) for c in y]) / 255.0
    unrolled = np.stack([np.ravel(img, order="F") for img in images])
    return images, y, {"X": unrolled[:m], "y": y[:m, None].astype(np.float64),
                       "Xtest": unrolled[m:], "ytest": y[m:, None].astype(np.float64)}
