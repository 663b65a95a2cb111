"""Prints the kernel table: loop reference, vectorized NumPy and Numba side by side.

    python bench/speedups.py [--budget SECONDS] [--only NAME ...]
"""

import argparse
import platform
import time

import numba

from fastnn import retain_freed_memory
from fastnn.benchmarks import KERNEL_COLUMNS, format_table, kernel_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per timing")
    parser.add_argument("--only", nargs="*", help="cases whose name contains one of these")
    args = parser.parse_args()
    retain_freed_memory()  # as fastnn bench does: no page faults on reused buffers
    rows = kernel_table(args.budget, args.only)
    print(f"fastnn kernels, batch 32, float32; {time.strftime('%Y-%m-%d')}, "
          f"{platform.processor() or platform.machine()}, {numba.config.NUMBA_NUM_THREADS} threads")
    print(format_table(rows, KERNEL_COLUMNS))


if __name__ == "__main__":
    main()
