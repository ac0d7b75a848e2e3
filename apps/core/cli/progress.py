"""Progress bars for the `archive` command's long work: drawn with rich on stderr when stderr is a
terminal, nothing at all when it is piped, with `--format json`, `--quiet` or `-v 0`.

Long work reports through one small interface, `Progress`: `total(n)` (None while unknown),
`advance(n)`, `describe(text)`, `set(...)` for absolute figures, and `note(text)` for the lines a
command writes to stderr as it goes (printed above the bar on a terminal, as plain lines otherwise,
exactly as before). Work carried out by the warehouse worker is followed with `polling`: it reads
what the worker records (the run's row: state, step, counts) while the command waits, and never
opens the warehouse itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
QUIET_HELP = "no progress bar (it is drawn on stderr only when stderr is a terminal, and never with --format json)"


class Progress(Protocol):
    def total(self, n: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def describe(self, text: str) -> None: ...
    def set(self, *, completed: int | None = None, total: int | None = None, description: str | None = None,
            known_total: bool = False) -> None: ...
    def note(self, text: str) -> None: ...


class Silent:
    """No bar: figures are dropped, notes go to the command's stderr as plain lines."""

    shown = False

    def __init__(self, stderr) -> None:
        self._stderr = stderr

    def total(self, n: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def describe(self, text: str) -> None:
        pass

    def set(self, *, completed=None, total=None, description=None, known_total=False) -> None:
        pass

    def note(self, text: str) -> None:
        self._stderr.write(text)


class _Figures(ProgressColumn):
    """`42% 21/50` when the total is known, the count alone while it is not (no made-up percentage)."""

    def render(self, task) -> Text:
        done = int(task.completed)
        if task.total is None:
            return Text(f"{done}" if done else "", style="progress.download")
        return Text(f"{task.percentage:>3.0f}% {done}/{int(task.total)}", style="progress.percentage")


class Bar:
    """One rich progress bar on `stream` (a terminal)."""

    shown = True

    def __init__(self, stream, description: str, total: int | None = None) -> None:
        self.console = Console(file=stream, highlight=False)
        self._progress = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _Figures(),
                                      TimeElapsedColumn(), console=self.console, redirect_stdout=False,
                                      redirect_stderr=False)
        self._task = self._progress.add_task(description, total=total)
        self._lock = threading.Lock()  # the poller and the command both report

    def __enter__(self) -> Bar:  # noqa: PYI034 - a final class in all but name
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def total(self, n: int | None) -> None:
        self.set(total=n, known_total=True)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self._progress.advance(self._task, n)

    def describe(self, text: str) -> None:
        self.set(description=text)

    def set(self, *, completed: int | None = None, total: int | None = None, description: str | None = None,
            known_total: bool = False) -> None:
        """Absolute figures (a poller's reading); `known_total` also sets a total of None (unknown)."""
        changes: dict = {}
        if completed is not None:
            changes["completed"] = completed
        if total is not None or known_total:
            changes["total"] = total
        if description is not None:
            changes["description"] = description
        with self._lock:
            self._progress.update(self._task, **changes)

    def note(self, text: str) -> None:
        with self._lock:
            self.console.print(Text(text))


def shown(cmd, options: dict) -> bool:
    """A bar only for a person watching: stderr is a terminal, and no JSON or quiet was asked for."""
    if options.get("format") == "json" or options.get("json") or options.get("quiet"):
        return False
    if options.get("verbosity", 1) == 0:
        return False
    return cmd.stderr.isatty()


@contextmanager
def progress(cmd, options: dict, description: str, total: int | None = None) -> Iterator[Progress]:
    """The progress of one piece of long work: a `Bar` on a terminal, else `Silent`."""
    if not shown(cmd, options):
        yield Silent(cmd.stderr)
        return
    with Bar(getattr(cmd.stderr, "_out", cmd.stderr), description, total) as bar:
        yield bar


Reading = dict  # keyword arguments for Progress.set: completed, total, description, known_total


@contextmanager
def polling(bar: Progress, read: Callable[[], Reading | None], every: float = POLL_SECONDS) -> Iterator[None]:
    """While the body waits for the worker, show what `read()` finds every `every` seconds, and once
    more at the end. `read` looks at recorded state only (PostgreSQL rows); without a bar nothing
    is read at all, so a piped command does exactly what it did before."""
    if not getattr(bar, "shown", False):
        yield
        return
    stop = threading.Event()

    def show() -> None:
        from django.db import DatabaseError

        try:
            reading = read()
        except DatabaseError as exc:  # a display must never break the work it follows
            logger.debug("progress reading failed: %s", exc)
            return
        if reading:
            bar.set(**reading)

    def loop() -> None:
        from django.db import connection

        try:
            while not stop.wait(every):
                show()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=loop, name="archive-progress", daemon=True)
    show()
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        show()
