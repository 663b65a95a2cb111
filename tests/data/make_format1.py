"""Writes format1_model.npz and format1_checkpoint.npz: a model file and a checkpoint as fastnn
wrote them before parameters had one key (commit 1f41581: arrays ``layer{i}.{name}``, optimizer
state ``optimizer/{i}.{name}/{slot}``), for tests/test_serialization.py. Kept to show how the
files were made; running it again with a newer fastnn writes the newer layout."""

from pathlib import Path

import numpy as np

import fastnn as fn

here = Path(__file__).parent
rng = np.random.default_rng(0)
x = rng.standard_normal((24, 4)).astype(np.float32)
y = rng.integers(0, 3, 24)
model = fn.Sequential([fn.Dense(4, 5), fn.BatchNorm1D(5), fn.ReLU(), fn.Dense(5, 3)], seed=1)
model.fit(x, y, optimizer=fn.Adam(1e-2), epochs=1, batch_size=8, progress=False,
          callbacks=[fn.callbacks.ModelCheckpoint(here / "format1_checkpoint.npz")])
model.save(here / "format1_model.npz", metadata={"made_by": "tests/data/make_format1.py"})
np.savez(here / "format1_expected.npz", x=x, y=y, probabilities=model.predict(x))
