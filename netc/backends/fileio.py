"""Output files (`-o`) written without doing harm (README, "Output files").

- A regular file, or a name that does not exist yet, is written atomically: a temporary
  `.netc-*.tmp` beside it, renamed over it once complete, so the old file stays whole until then.
- A symlink is followed: the file it points to is replaced as above and the link stays a link.
- A FIFO or character device (`/dev/null`, a terminal, a pipe behind `/dev/stdout`) is written
  through, as a shell's `>` would; netc never puts a regular file in a node's place.
- A directory, block device or socket is refused, as is the spec itself under any name.
- SIGTERM or SIGHUP during the write removes the temporary file; the exception that carries the
  signal out lets the command line exit with 128 + its number.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Iterator

from ..errors import UsageError

# Signals that end a process by default and that a user or a service manager sends to stop it.
# SIGINT already arrives as KeyboardInterrupt, which the cleanup below sees like any exception.
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupted(BaseException):
    """A signal arrived while an output was being written. A BaseException, like KeyboardInterrupt,
    so that no `except Exception` swallows it before the temporary file is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def check_output(path: str, spec: str | None = None) -> None:
    """Refuse, before any work, an output netc must not write: a directory, a block device or
    socket, or the spec file itself (by any name: `./x.yaml`, a symlink, a hard link)."""
    destination(path)
    if spec is not None and _same_file(path, spec):
        raise UsageError(f"{path}: is the spec being read ({spec}); netc will not write over its input")


def write_atomic(path: str, data: str | bytes) -> None:
    """Either the whole new content lands at `path`, or the old file (if any) is untouched.

    An OSError names `path`, the file the user asked for, never the temporary file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with _signals_as_exceptions():
        through, target = destination(path)
        if through:
            _write_through(path, payload)
        else:
            _replace(path, target, payload)


def destination(path: str) -> tuple[bool, str]:
    """How `path` would be written, looking only: (write through the node?, else the file to
    replace), a symlink judged by what it points to. Raises UsageError for what netc refuses."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None  # nothing there yet, or a link to nothing: a new file is made
    except OSError as exc:  # a loop of links, a file used as a directory, no permission to look
        raise _cannot_write(exc, path) from None
    if info is None or stat.S_ISREG(info.st_mode):
        # Replace the link's target, not the link: renaming over `path` would turn the link into a file.
        return False, os.path.realpath(path) if os.path.islink(path) else path
    if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
        return True, path
    raise UsageError(f"{path}: is {_describe(info.st_mode)}; netc writes only files, FIFOs and character devices")


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory, not a file"
    if stat.S_ISBLK(mode):
        return "a block device"  # a disk: writing a model over it would destroy it
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same_file(path: str, spec: str) -> bool:
    try:
        return os.path.samefile(path, spec)
    except OSError:  # either does not exist (yet): they cannot be one file
        return False


def _write_through(path: str, payload: bytes) -> None:
    """Write into a FIFO or device in place. No O_CREAT: if the node vanished, nothing is made in
    its stead; O_NOCTTY: a terminal named as output does not become the controlling terminal.
    Unbuffered, so that an error (a full device, a reader gone) is the write's, reported once."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _cannot_write(exc, path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):  # replaced between the look and the open
            raise UsageError(f"{path}: changed while netc was opening it; nothing was written")
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise _cannot_write(exc, path) from None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _replace(path: str, target: str, payload: bytes) -> None:
    """Write `payload` to a temporary file beside `target`, then rename it over `target`."""
    import tempfile  # here, not above: `netc check` and output to stdout need none of it

    directory = os.path.dirname(target) or "."
    tmp: str | None = None
    try:
        with _signals_deferred():  # so that a signal cannot land between creating `tmp` and knowing its name
            fd, tmp = tempfile.mkstemp(prefix=".netc-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())  # the content is on disk before the name points at it
        _copy_metadata(target, tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        with _signals_deferred():  # a second signal must not cut the cleanup short
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            if tmp is None and not os.path.isdir(directory):
                raise OSError(exc.errno, "cannot write: no such directory", path) from None
            raise _cannot_write(exc, path) from None
        raise


def _copy_metadata(old: str, new: str) -> None:
    """mkstemp makes the file private (0600) and ours: give it the old file's mode and, where we may
    (as root), its owner, so that replacing a user's file does not take it from them."""
    try:
        before = os.stat(old)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(new, 0o666 & ~umask)  # the mode a plain open() would give a new file
        return
    os.chmod(new, stat.S_IMODE(before.st_mode))
    if hasattr(os, "chown") and (before.st_uid, before.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(PermissionError):
            os.chown(new, before.st_uid, before.st_gid)
            os.chmod(new, stat.S_IMODE(before.st_mode))  # chown clears set-user-ID bits


def _cannot_write(exc: OSError, path: str) -> OSError:
    return OSError(exc.errno, f"cannot write: {exc.strerror or exc}", path)


@contextlib.contextmanager
def _signals_as_exceptions() -> Iterator[None]:
    """While writing, SIGTERM and SIGHUP raise Interrupted instead of killing the process on the spot,
    so that the cleanup runs. Only signals left at their default action are taken over: an ignored
    SIGHUP (under nohup) stays ignored, and a handler the program installed stays in charge."""
    previous: dict[int, object] = {}

    def interrupt(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    try:
        for signum in _SIGNALS:
            if signal.getsignal(signum) is signal.SIG_DFL:
                previous[signum] = signal.signal(signum, interrupt)
    except ValueError:  # not the main thread: Python can only install handlers there
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGHUP back for a few statements; they are delivered when this ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


__all__ = ["Interrupted", "check_output", "destination", "write_atomic"]
