"""`python -m netc`: the command line, guarded from its first import on.

Importing netc.cli pulls in argparse, dataclasses and the whole front end; under a tight memory cap
that import is where a MemoryError (or an odd error from a half-failed allocation) comes first, and
it would come before netc.cli.main's own guard. So the import happens here, inside a guard.
"""

import sys

# The same line as netc.cli's, written out here because netc.cli may be what could not be imported.
# A bytes constant exists as soon as this file is loaded: printing it allocates nothing.
_OUT_OF_MEMORY = (b"netc: internal error (out of memory); please report it with the spec that caused it "
                  b"(NETC_DEBUG=1 shows the traceback)\n")
_INTERNAL_ERROR = 70  # EX_SOFTWARE, as netc.cli.INTERNAL_ERROR


def _say(line: bytes) -> None:
    import os  # already loaded by the interpreter: a name look-up, no allocation to speak of

    try:
        os.write(2, line)
    except OSError:
        pass


def _import_failed(exc: BaseException) -> int:
    """netc.cli could not be imported: one line, as netc.cli._internal_error would say it, or the
    preallocated one when even composing a line runs out of memory."""
    try:
        import os

        if os.environ.get("NETC_DEBUG"):
            import traceback

            traceback.print_exception(exc)
        if not isinstance(exc, MemoryError):
            kind = f"{type(exc).__name__}: {exc}"[:300]
            _say(f"netc: internal error ({kind}); please report it with the spec that caused it "
                 "(NETC_DEBUG=1 shows the traceback)\n".encode())
            return _INTERNAL_ERROR
    except MemoryError:
        pass
    _say(_OUT_OF_MEMORY)
    return _INTERNAL_ERROR


def run() -> int:
    if sys.argv[1:] == ["--version"]:  # argparse's answer, without building the command line: start-up is all it costs
        from .version import __version__

        print(f"netc {__version__}")
        return 0
    try:
        from .cli import main
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - netc's own modules failing to load: a line, not a traceback
        return _import_failed(exc)
    return main()


if __name__ == "__main__":
    sys.exit(run())
