"""The one progress bar every driver shows: rich, transient, and nothing at all when disabled."""

from __future__ import annotations

__all__ = ["ProgressBar"]


class ProgressBar:
    """``description | bar | done/total | status | time left``, or a no-op when not ``enabled``.

    Drivers subclass it only to format their status line (step size and divergences, the ELBO,
    ...) and call :meth:`show`.
    """

    def __init__(self, enabled: bool, total: int, description: str):
        self.enabled = enabled
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                transient=True,
            )
            self._task = self._bar.add_task(description, total=total, status="")

    def __enter__(self):
        if self.enabled:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._bar.__exit__(*exc)

    def show(self, done: int, status: str = "", description: str | None = None) -> None:
        """Move the bar to ``done`` with a new status line (and description, if given)."""
        if not self.enabled:
            return
        fields = {"completed": done, "status": status}
        if description is not None:
            fields["description"] = description
        self._bar.update(self._task, **fields)

    def set_total(self, total: int) -> None:
        if self.enabled:
            self._bar.update(self._task, total=total)
