"""Progress bars on tqdm (``tqdm.auto``: notebook widgets in Jupyter, text in a terminal).

A bar is off when stderr is not a terminal (a log file, a pipe, CI), unless forced; it never
draws wider than 80 columns (or the terminal, if narrower). :meth:`Progress.restart_clock`
leaves time already spent (the first batch, when Numba compiles the kernels) out of the rate
and the time left.
"""

from __future__ import annotations

import shutil
import sys

from tqdm.auto import tqdm

WIDTH = 80


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """``bar.update(n, loss=0.12)`` after each batch, ``bar.close()`` at the end.

    ``enabled=False`` draws nothing; ``True`` or ``None`` draw when stderr is a terminal (or in
    a notebook); ``force=True`` draws anyway.
    """

    def __init__(self, total: int | None, label: str = "", unit: str = "it",
                 enabled: bool | None = None, force: bool = False, leave: bool = True) -> None:
        self.total, self.label, self.unit = total, label, unit
        show = force or (enabled is not False and (stderr_is_terminal() or _in_notebook()))
        self.enabled = bool(show)
        self.values: dict[str, float] = {}
        self.bar = None
        if self.enabled:
            columns = shutil.get_terminal_size((WIDTH, 24)).columns
            self.bar = tqdm(total=total, desc=label, unit=unit, smoothing=0,
                            ncols=min(WIDTH, columns) if columns > 0 else WIDTH,
                            leave=leave, file=sys.stderr, dynamic_ncols=False,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                            "[{elapsed}<{remaining}, {rate_fmt}{postfix}]" if total else None)

    def update(self, count: int = 1, **values: float) -> None:
        self.values.update(values)
        if self.bar is not None:
            if values:
                self.bar.set_postfix({k: f"{v:.4f}" for k, v in self.values.items()},
                                     refresh=False)
            self.bar.update(count)

    def note(self, text: str) -> None:
        """Shows ``text`` after the label (e.g. "compiling kernels") until the next update."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def set_label(self, label: str) -> None:
        self.label = label
        if self.bar is not None:
            self.bar.set_description_str(label, refresh=False)

    def restart_clock(self) -> None:
        """Rate and time left count from now and from the current count, so that time spent
        so far (the first batch's kernel compile) does not skew them."""
        if self.bar is not None:
            self.bar.initial = self.bar.n
            self.bar.start_t = self.bar.last_print_t = self.bar._time()

    def write(self, text: str) -> None:
        """Prints a line above the bar (to stderr), or plainly when the bar is off."""
        if self.bar is not None:
            tqdm.write(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
