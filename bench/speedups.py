"""Prints the kernel table: loop reference, vectorized NumPy and Numba, each implementation in
processes of its own (three each, taking turns), as `fastnn bench` does.

    python bench/speedups.py [--budget SECONDS] [--only NAME ...]
"""

import argparse

from fastnn import benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.2, help="seconds per timing")
    parser.add_argument("--only", nargs="*", help="cases whose name contains one of these")
    args = parser.parse_args()
    result = benchmark.run(benchmark.Settings(cells=[], kernel_budget=args.budget,
                                              kernel_names=args.only))
    print(benchmark.report(result))


if __name__ == "__main__":
    main()
