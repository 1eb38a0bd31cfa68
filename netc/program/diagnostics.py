"""The error accumulator of the spec checks: every independent part is checked, and all their
errors are reported together."""

from __future__ import annotations

from ..errors import MAX_ERRORS, Diagnostic, NetcError


class Diagnostics:
    """Errors collected over the independent parts of a spec (each top-level key, params entry,
    defaults entry, block, network line and head), so one run reports them all, as a compiler
    does. A part that fails is left out of the program; the program is not built if any did."""

    def __init__(self, parent: Diagnostics | None = None) -> None:
        self.found: list[Diagnostic] = []
        self.root = parent.root if parent is not None else self  # keeps the spec-wide DSL budget
        self.dsl_chars = 0

    def add(self, exc: NetcError) -> None:
        for diagnostic in exc.diagnostics:
            if diagnostic not in self.found:
                self.found.append(diagnostic)

    def run(self, fn, *args, default=None):
        """fn(*args), or `default` when it raises a NetcError (recorded)."""
        try:
            return fn(*args)
        except NetcError as exc:
            self.add(exc)
            return default

    def check(self) -> None:
        if self.found:
            raise NetcError(self.found[:MAX_ERRORS])
