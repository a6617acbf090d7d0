"""One progress display for the operator's long commands (loading a roster, replaying
rejections, importing a directory), drawn by rich on standard error.

Shown only when standard error is a terminal and the operator did not pass `--quiet`: a log
file or a pipe gets the final one-line summaries and nothing else, never a stream of redraws.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(*, quiet: bool = False) -> Progress:
    """A rich Progress for `with` (disabled, and so silent, when quiet or not on a terminal)."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=False,
    )
