"""``fastnn bench``: every framework timed alone in a process of its own, the processes taking
turns; the result file with the machine it ran on; its tables, curves and ``compare``.

    from fastnn import benchmark
    result = benchmark.run(benchmark.Settings(cells=benchmark.plan(quick=True)))
    print(benchmark.report(result))
"""

from .results import BenchFileError, compare, load, report, validate
from .runner import Cell, Settings, plan, run

__all__ = ["BenchFileError", "Cell", "Settings", "compare", "load", "plan", "report", "run",
           "validate"]
