"""``fastnn bench --scheduler ADDRESS``: the bench once on each host of a Dask cluster, one host
at a time (a timing never shares its machine with another host's bench, nor with a second
worker on its own host), each host's plan made from its own cores; one result per machine and
a table across them. The client is given (:func:`fastnn.sweep.runner.dask_client`); this module
needs no Dask of its own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

from . import results, runner


def hosts(workers: dict) -> dict[str, str]:
    """One worker per host, ``{host: address}``, from ``client.scheduler_info()["workers"]``."""
    out: dict[str, str] = {}
    for address, info in sorted(workers.items()):
        out.setdefault(info.get("host") or urlparse(address).hostname or address, address)
    return out


def run_here(plan: dict, settings: dict) -> dict:
    """On a worker: the cells of :func:`runner.plan` for its cores, then the bench."""
    return runner.run(runner.Settings(cells=runner.plan(**plan), **settings))


def run_on_hosts(client, plan: dict, settings: dict,
                 progress: Callable[[str], None] = print) -> Iterator[dict]:
    """The bench on one worker of each host in turn; yields each host's result as it ends."""
    chosen = hosts(client.scheduler_info()["workers"])
    for i, (host, address) in enumerate(chosen.items()):
        progress(f"host {i + 1} of {len(chosen)}: {host} (worker {address})")
        future = client.submit(run_here, plan, settings, workers=[address],
                               allow_other_workers=False, pure=False)
        yield future.result()


def _slug(text: str, width: int) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-")[:width] or "unknown"


def file_name(result: dict) -> str:
    """``fastnn-bench-HOST-CPU-Nt.json``: the machine's name, CPU and usable threads."""
    env = result["environment"]
    return (f"fastnn-bench-{_slug(env.get('host'), 32)}-{_slug(env.get('cpu'), 40)}-"
            f"{env.get('usable_cores')}t.json")


def machines_table(found: list[dict]) -> str:
    """fastnn's median for each headline case (all threads, idle) on each machine."""
    rows: dict[tuple, dict] = {}
    names = []
    for result in found:
        env = result["environment"]
        name = f"{env.get('host')} ({env.get('usable_cores')}t)"
        names.append(name)
        for row in results.headline(result):
            rows.setdefault((row["network"], row["case"]), {
                "network": row["network"], "case": row["case"]})[name] = row["fastnn"]
    return results.format_table(list(rows.values()), ["network", "case", *names])
