"""pytest-benchmark suite: every kernel case on every implementation.

    python -m pytest bench --benchmark-only --benchmark-group-by=param:case
    python -m pytest bench --benchmark-only --benchmark-autosave   # then --benchmark-compare

Absolute times of one implementation at a time: every implementation in one pytest process
shares it with the others' thread pools, so compare implementations with `fastnn bench`
(each in its own processes), or select one here with -k, e.g. -k "numba" or -k "reference".
"""

import pytest

from fastnn import retain_freed_memory
from fastnn.benchmark.kernels import IMPLEMENTATIONS, KERNEL_CASES

retain_freed_memory()  # as fastnn bench does: no page faults on reused buffers

PARAMS = [pytest.param(case, impl, id=f"{case.name}-{impl}")
          for case in KERNEL_CASES for impl in case.implementations()]


@pytest.mark.parametrize("case,impl", PARAMS)
def test_kernel(benchmark, case, impl):
    fn = getattr(IMPLEMENTATIONS[impl], case.function)
    args = case.args()  # updates run in place on these arrays; their timing does not care
    fn(*args)  # compile outside the timing
    benchmark.group = case.name
    benchmark(fn, *args)
