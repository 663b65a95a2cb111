"""What a bench result was measured on: the CPU, its cores, the versions of everything timed,
fastnn's commit and the date. Read without importing the frameworks (package metadata only);
each timed process adds what only it can see (threading layer, BLAS, thread counts) under
``runtime``."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("fastnn", "numpy", "numba", "llvmlite", "scipy", "threadpoolctl", "torch", "onnx",
            "onnxruntime")
THREAD_PREFIXES = ("OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "NUMBA_")
"""Environment variables that set thread counts or wait policies, recorded with a result."""
SIMD = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
        "avx512_bf16", "amx_tile", "neon", "asimd", "sve")


def _cpuinfo() -> dict:
    info: dict = {"model": platform.processor() or platform.machine(), "flags": [],
                  "physical_cores": None}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    cores = set()
    physical = core = None
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "model name":
            info["model"] = value
        elif key in ("flags", "Features") and not info["flags"]:
            info["flags"] = value.split()
        elif key == "physical id":
            physical = value
        elif key == "core id":
            core = value
            cores.add((physical, core))
    info["physical_cores"] = len(cores) or None
    return info


def _commit() -> str | None:
    """fastnn's git commit, with ``-dirty`` for uncommitted changes, when it runs from a
    checkout; None for an installed copy."""
    top = Path(__file__).resolve().parents[2]
    if not (top / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(top), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout
        dirty = subprocess.run(["git", "-C", str(top), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head.strip() + ("-dirty" if dirty.strip() else "")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    """The machine and software of this run (see the module's docstring)."""
    cpu = _cpuinfo()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu": cpu["model"],
        "cpu_flags": cpu["flags"],
        "logical_cores": os.cpu_count(),
        "physical_cores": cpu["physical_cores"],
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "commit": _commit(),
        "versions": {name: _version(name) for name in PACKAGES},
        "thread_variables": {k: v for k, v in os.environ.items() if k.startswith(THREAD_PREFIXES)},
        "runtime": {},
    }


def machine_key(env: dict) -> dict:
    """What makes two results comparable as one machine."""
    return {"host": env.get("host"), "cpu": env.get("cpu"),
            "logical_cores": env.get("logical_cores")}


def summary(env: dict) -> str:
    """One line: CPU, SIMD, cores, threading layer and BLAS, versions, commit, date."""
    simd = [f for f in SIMD if f in env.get("cpu_flags", [])]
    runtime = env.get("runtime", {})
    fast = runtime.get("fastnn", {})
    blas = {(b.get("internal_api"), b.get("version"), b.get("architecture"))
            for b in fast.get("blas", []) if b.get("internal_api") != "openmp"}
    parts = [f"{env.get('cpu')} ({' '.join(simd[-3:]) or 'no SIMD flags read'})",
             f"{env.get('usable_cores')} cores", f"host {env.get('host')}"]
    if fast:
        parts.append(f"numba {fast.get('numba')} {fast.get('threading_layer')}")
    parts += [f"{api} {ver} {arch}" for api, ver, arch in sorted(blas, key=str)]
    versions = env.get("versions", {})
    parts += [f"{name} {versions[name]}" for name in ("torch", "onnxruntime")
              if versions.get(name)]
    parts.append(f"fastnn {versions.get('fastnn')} @ {env.get('commit') or 'installed'}")
    parts.append(str(env.get("date", ""))[:16].replace("T", " "))
    return ", ".join(parts)
