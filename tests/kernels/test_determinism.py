"""Seeded training gives the same bits with 1 and 2 threads, as the README promises; the
model runs each convolution algorithm (direct, winograd, gemm, im2col)."""

import os
import subprocess
import sys

SCRIPT = """
import hashlib, numpy as np, fastnn as fn
rng = np.random.default_rng(0)
x = rng.random((64, 3, 16, 16)).astype(np.float32)
y = rng.integers(0, 4, 64)
model = fn.Sequential([
    fn.Conv2D(3, 8, 3, padding="same"), fn.ReLU(), fn.BatchNorm2D(8), fn.MaxPool2D(2),
    fn.Conv2D(8, 64, 3, padding=1), fn.ReLU(), fn.BatchNorm2D(64), fn.MaxPool2D(2),
    fn.Conv2D(64, 64, 3, padding=1), fn.ReLU(),
    fn.Conv2D(64, 8, 3, stride=2, padding=1), fn.ReLU(), fn.Flatten(),
    fn.Dense(32, 16), fn.ReLU(), fn.BatchNorm1D(16), fn.Dropout(0.3), fn.Dense(16, 4)], seed=1)
model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=2, batch_size=16, progress=False, seed=2)
h = hashlib.sha256()
for _, p, _ in model.parameters():
    h.update(p.tobytes())
for layer in model.layers:
    for b in layer.buffers.values():
        h.update(b.tobytes())
h.update(model.predict(x).tobytes())
used = {a for step in model.plan for a in getattr(step, "algorithm", None) or ()}
assert used == {"direct", "winograd", "gemm", "im2col"}, used
print(h.hexdigest())
"""


def run(threads: int) -> str:
    env = os.environ | {"NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    return out.stdout.strip()


def test_one_and_two_threads_give_the_same_bits():
    one, two = run(1), run(2)
    assert len(one) == 64 and one == two
