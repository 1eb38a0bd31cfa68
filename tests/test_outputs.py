"""Outputs that do no harm (README, "Output files"; issue 10, part 4).

- `-o` onto a FIFO or character device writes through it and leaves the node a node; a symlink is
  followed (its target is replaced, the link stays); a directory, a block device, the spec itself
  (by any name) and `-o ''` are refused with exit 2 and one line, before any work;
- SIGTERM or SIGHUP in the middle of a write leave no `.netc-*.tmp` and the old output whole, and
  netc exits 128 + the signal's number;
- under a memory cap netc exits 70 with its one line (or 0, or a clean 1/2), never a traceback;
- the generated file names the spec relative to the current directory, or by its file name,
  never by an absolute path, from the command line and from Python alike.

Device nodes are made by the tests in tmp_path (root only); the real /dev/null is only looked at.
"""

from __future__ import annotations

import linecache
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import netc

ROOT = Path(__file__).resolve().parent.parent
SPEC_TEXT = """\
name: tiny
input: [3, 16, 16]
blocks:
  unit:
    args: [c]
    residual: conv(c, 3)-bn-relu-conv(c, 3)-bn
    after: relu
network: conv(8, 3)-relu-unit(8)*2-globalavgpool-fc(10)
"""
BAD_SPEC_TEXT = "name: bad\ninput: [3, 8, 8]\nnetwork: conv3-8-nosuchlayer\n"
PRECIOUS = b"# precious: an older output\n"


def run_netc(*args: object, cwd: Path = ROOT, **options) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NETC_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "netc", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, check=False, **options)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SPEC_TEXT, encoding="utf-8")
    return path


def expected_source(spec: Path) -> bytes:
    """What `netc compile` writes for `spec`, run from the spec's folder so that any run from
    elsewhere with the same file name gives the same bytes."""
    done = run_netc("compile", spec.name, cwd=spec.parent)
    assert done.returncode == 0, done.stderr
    return done.stdout


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".netc-"))


def one_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert text.count("\n") == 1 and text.endswith("\n"), text
    return text


def make_node(path: Path, kind: int, major: int, minor: int) -> None:
    try:
        os.mknod(path, kind | 0o666, os.makedev(major, minor))
    except (PermissionError, AttributeError) as exc:  # needs root (CAP_MKNOD), and a POSIX system
        pytest.skip(f"cannot make a device node here: {exc}")


# --- nodes and links ---------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_written_through_and_stays_a_fifo(tmp_path, spec):
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())",
                               str(fifo)], stdout=subprocess.PIPE)
    try:
        done = run_netc("compile", spec, "-o", fifo, timeout=60)
        received, _ = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()  # the FIFO was replaced by a file: nobody will ever open it for writing
            reader.wait()
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received == expected_source(spec)
    assert leftovers(tmp_path) == []


def test_a_character_device_is_written_through_and_stays_a_device(tmp_path, spec):
    node = tmp_path / "null"
    make_node(node, stat.S_IFCHR, 1, 3)  # a /dev/null of our own
    before = os.lstat(node)
    for command in ("compile", "table"):
        done = run_netc(command, spec, "-o", node)
        assert done.returncode == 0, done.stderr
        after = os.lstat(node)
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert leftovers(tmp_path) == []


def test_a_full_device_is_a_clean_error_naming_it(tmp_path, spec):
    node = tmp_path / "full"
    make_node(node, stat.S_IFCHR, 1, 7)  # a /dev/full of our own: every write fails with "no space"
    done = run_netc("compile", spec, "-o", node)
    assert done.returncode == 2
    assert str(node) in one_line(done.stderr)
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert leftovers(tmp_path) == []


def test_a_block_device_is_refused_unopened(tmp_path, spec):
    node = tmp_path / "disk"
    make_node(node, stat.S_IFBLK, 60, 0)  # major 60: reserved for local use, no driver behind it
    before = os.lstat(node)
    done = run_netc("compile", spec, "-o", node)
    assert done.returncode == 2
    assert str(node) in one_line(done.stderr)
    after = os.lstat(node)
    assert stat.S_ISBLK(after.st_mode) and after.st_ino == before.st_ino
    assert leftovers(tmp_path) == []


def test_dev_null_would_be_written_through(tmp_path):
    """Looked at, never written: the real /dev/null is a node that netc writes into."""
    from netc.backends.fileio import destination

    if not os.path.exists("/dev/null") or not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("no /dev/null character device")
    assert destination("/dev/null") == (True, "/dev/null")
    link = tmp_path / "null-link"
    link.symlink_to("/dev/null")
    assert destination(str(link)) == (True, str(link))  # a link to a node: through the link, into the node


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_link_to_standard_output_writes_into_the_pipe(tmp_path, spec):
    """`-o /dev/stdout` in miniature: a link to /proc/self/fd/1, which is this run's pipe."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    done = run_netc("compile", spec, "-o", link)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected_source(spec)
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_a_symlink_is_followed_and_stays_a_link(tmp_path, spec):
    target = tmp_path / "real.py"
    target.write_bytes(PRECIOUS)
    target.chmod(0o640)
    link = tmp_path / "model.py"
    link.symlink_to("real.py")
    done = run_netc("compile", spec, "-o", link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == "real.py"
    assert target.read_bytes() == expected_source(spec)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file it points to keeps its mode
    assert leftovers(tmp_path) == []


def test_a_dangling_symlink_gets_its_target_made(tmp_path, spec):
    link = tmp_path / "model.py"
    link.symlink_to("made.py")
    done = run_netc("compile", spec, "-o", link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and (tmp_path / "made.py").read_bytes() == expected_source(spec)


def test_a_directory_is_an_error_naming_it_before_any_work(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SPEC_TEXT, encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    link = tmp_path / "out-link"
    link.symlink_to("out")
    for target in (folder, link):
        done = run_netc("compile", bad, "-o", target)
        assert done.returncode == 2  # the output is refused before the spec is read
        assert str(target) in one_line(done.stderr)
        assert link.is_symlink() and folder.is_dir() and list(folder.iterdir()) == []
    assert leftovers(tmp_path) == []


# --- the spec itself, and an empty name ----------------------------------------------------------------
@pytest.mark.parametrize("how", ["same", "dot-slash", "absolute", "symlink", "hard-link"])
@pytest.mark.parametrize("command", ["compile", "table"])
def test_the_spec_itself_is_refused_by_any_name(tmp_path, spec, how, command):
    names = {"same": spec.name, "dot-slash": f"./{spec.name}", "absolute": str(spec),
             "symlink": "link.yaml", "hard-link": "hard.yaml"}
    if how == "symlink":
        (tmp_path / "link.yaml").symlink_to(spec.name)
    if how == "hard-link":
        os.link(spec, tmp_path / "hard.yaml")
    done = run_netc(command, spec.name, "-o", names[how], cwd=tmp_path)
    assert done.returncode == 2
    assert names[how] in one_line(done.stderr)
    assert spec.read_text(encoding="utf-8") == SPEC_TEXT
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", ["compile", "table", "render"])
def test_an_empty_output_name_is_a_usage_error(spec, command):
    done = run_netc(command, spec, "-o", "")
    assert done.returncode == 2
    one_line(done.stderr)
    assert done.stdout == b""


# --- nothing half-written ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["compile", "table"])
def test_an_internal_error_leaves_the_old_output_untouched(tmp_path, spec, command):
    out = tmp_path / "out.txt"
    out.write_bytes(PRECIOUS)
    script = ("import sys, netc.backends.codegen, netc.analysis.table\n"
              "def broken(*args, **kwargs): raise RuntimeError('a bug')\n"
              "netc.backends.codegen.generate_source = netc.analysis.table.render_table = broken\n"
              "from netc.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, command, str(spec), "-o", str(out)], cwd=ROOT,
                          capture_output=True, check=False)
    assert done.returncode == 70
    assert one_line(done.stderr).startswith("netc: internal error")
    assert out.read_bytes() == PRECIOUS and leftovers(tmp_path) == []


def test_running_out_of_memory_mid_write_leaves_the_old_output(tmp_path, spec):
    out = tmp_path / "model.py"
    out.write_bytes(PRECIOUS)
    script = ("import os, sys\n"
              "real_fsync = os.fsync\n"
              "def fsync(fd):\n"
              "    real_fsync(fd)\n"
              "    raise MemoryError\n"  # after the temporary file is complete, before the rename
              "os.fsync = fsync\n"
              "from netc.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, "compile", str(spec), "-o", str(out)], cwd=ROOT,
                          capture_output=True, check=False)
    assert done.returncode == 70
    assert "out of memory" in one_line(done.stderr)
    assert out.read_bytes() == PRECIOUS and leftovers(tmp_path) == []


# --- failures while failing ------------------------------------------------------------------------------
def run_main(monkeypatch, failure: BaseException) -> int:
    """netc.cli.main on a command whose work raises `failure`."""
    import netc.cli

    def fail(args):
        raise failure

    monkeypatch.setattr(netc.cli, "_run", fail)
    return netc.cli.main(["check", "specs/vgg16.yaml"])


def test_memory_running_out_while_an_error_is_printed_is_still_one_line(monkeypatch, capsys):
    from netc.errors import NetcError

    class Unprintable(NetcError):
        def __str__(self) -> str:
            raise MemoryError  # as formatting the diagnostic might, with memory all but gone

    assert run_main(monkeypatch, Unprintable([])) == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and "out of memory" in err


def test_the_out_of_memory_line_reaches_the_terminal_when_sys_stderr_cannot_take_it(monkeypatch, capfd):
    class Exhausted:
        def write(self, text: str) -> int:
            raise MemoryError

        def flush(self) -> None:
            raise MemoryError

    monkeypatch.setattr(sys, "stderr", Exhausted())
    assert run_main(monkeypatch, MemoryError()) == 70
    monkeypatch.undo()
    err = capfd.readouterr().err
    assert err.startswith("netc: internal error (out of memory)") and err.count("\n") == 1


def test_an_allocation_the_os_refuses_is_out_of_memory_not_a_usage_error(monkeypatch, capsys):
    import errno

    assert run_main(monkeypatch, OSError(errno.ENOMEM, "Cannot allocate memory", "somewhere")) == 70
    assert "out of memory" in capsys.readouterr().err


def test_a_library_logging_a_traceback_prints_one_line(tmp_path, spec):
    """With memory too short to load a hash, hashlib logs an error with its traceback; here the
    hash modules are made unimportable instead, which hashlib reports the same way."""
    script = ("import sys\n"
              "for name in ('_hashlib', '_md5', '_sha1', '_sha3', '_blake2'):  # random still needs _sha512\n"
              "    sys.modules[name] = None\n"
              "from netc.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, "table", str(spec)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr and all(line.startswith("netc: ") for line in done.stderr.splitlines())
    assert done.stdout.startswith("tiny: input")


# --- signals during the write --------------------------------------------------------------------------
# The child pauses inside the write — the temporary file complete, the rename not yet done — and
# says so; only then does the test signal it. No sleeps, no race.
PAUSING_CHILD = """\
import os, signal, sys
if sys.argv[1] == "ignore-hup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
real_replace = os.replace
def pause_then_replace(src, dst):
    print("paused", flush=True)
    sys.stdin.readline()
    real_replace(src, dst)
os.replace = pause_then_replace
from netc.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _default_hangup() -> None:
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)


def start_paused(tmp_path: Path, spec: Path, out: Path, mode: str = "-") -> subprocess.Popen:
    # The hangup's default action in the child, whatever the suite inherited (under nohup it is
    # ignored, and netc rightly keeps an ignored hangup ignored).
    child = subprocess.Popen([sys.executable, "-c", PAUSING_CHILD, mode, "compile", str(spec), "-o", str(out)],
                             cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=_default_hangup)
    assert child.stdout.readline() == b"paused\n"
    assert leftovers(tmp_path), "the temporary file exists while the child is paused"
    return child


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("signum", [getattr(signal, "SIGTERM", 15), getattr(signal, "SIGHUP", 1)])
def test_a_signal_mid_write_leaves_no_temporary_and_the_old_output(tmp_path, spec, signum):
    out = tmp_path / "model.py"
    out.write_bytes(PRECIOUS)
    child = start_paused(tmp_path, spec, out)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signum
    assert b"Traceback" not in err
    assert out.read_bytes() == PRECIOUS
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_an_ignored_hangup_stays_ignored(tmp_path, spec):
    out = tmp_path / "model.py"
    out.write_bytes(PRECIOUS)
    child = start_paused(tmp_path, spec, out, "ignore-hup")
    child.send_signal(signal.SIGHUP)
    _, err = child.communicate(b"\n", timeout=60)  # then let it go on
    assert child.returncode == 0, err
    assert out.read_bytes() == expected_source(spec)
    assert leftovers(tmp_path) == []


# --- memory caps ---------------------------------------------------------------------------------------
try:
    import resource
except ImportError:  # Windows
    resource = None
MB = 1 << 20


def run_capped(cap: int, args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {k: v for k, v in os.environ.items() if k != "NETC_DEBUG"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, preexec_fn=limit, capture_output=True,
                          text=True, errors="replace", check=False, timeout=120)


@pytest.fixture(scope="module")
def empty_module(tmp_path_factory) -> Path:
    """A folder holding `python -m started`, a module that does nothing."""
    folder = tmp_path_factory.mktemp("probe")
    (folder / "started.py").write_text("", encoding="utf-8")
    return folder


def python_starts(cap: int, folder: Path) -> bool:
    """Whether, under `cap`, the interpreter starts and runs a module with -m: below that, whatever
    happens is the interpreter's, before any line of netc could run."""
    done = run_capped(cap, ["-m", "started"], cwd=folder)
    return done.returncode == 0 and not done.stderr


def through_netc(stderr: str) -> bool:
    """Whether a traceback passed through netc's own files (else it is the interpreter's start-up)."""
    return re.search(r'File "[^"]*[\\/]netc[\\/][^"]*\.py"', stderr) is not None


@pytest.mark.skipif(resource is None, reason="RLIMIT_AS is POSIX")
@pytest.mark.parametrize("command", ["table", "compile"])
def test_under_a_memory_cap_netc_exits_70_with_one_line_never_a_traceback(command, empty_module):
    args = ["-m", "netc", command, "specs/resnet50.yaml"]
    floor = next((c for c in range(8 * MB, 256 * MB, MB) if python_starts(c, empty_module)), None)
    if floor is None:
        pytest.skip("the interpreter does not start under any cap tried")
    enough = next((c for c in range(floor, 2048 * MB, 16 * MB) if run_capped(c, args).returncode == 0), None)
    assert enough is not None, "netc never succeeds under a memory cap"
    # Caps from "python barely starts" to "enough", denser at the bottom where imports fail.
    caps = sorted({floor + (enough - floor) * k * k // 100 for k in range(11)} | {floor + k * MB // 2 for k in range(4)})
    seen = set()
    for cap in caps:
        if not python_starts(cap, empty_module):
            continue
        done = run_capped(cap, args)
        if "Traceback" in done.stderr and not through_netc(done.stderr):
            continue  # runpy itself ran out while finding netc, before any of netc's lines ran
        assert "Traceback" not in done.stderr, (cap, done.stderr[-3000:])
        assert done.returncode in (0, 1, 2, 70), (cap, done.returncode, done.stderr[-3000:])
        if done.returncode == 70:
            lines = done.stderr.splitlines()
            assert all(line.startswith("netc: ") for line in lines), (cap, done.stderr)
            assert lines[-1].startswith("netc: internal error ("), (cap, done.stderr)
        seen.add(done.returncode)
    assert {0, 70} <= seen, f"the caps tried did not reach both outcomes: {sorted(seen)}"


# --- the spec's path in the generated file -------------------------------------------------------------
def spec_places(source: str) -> set[str]:
    """Every `path` of a `path:line:col` in the source's comments, and the header's `from path;`."""
    places = set(re.findall(r"([^\s,()]+\.yaml):\d+:\d+", source))
    header = re.match(r"# Generated by netc \S+ from (.+?); regenerate", source)
    assert header, source[:200]
    return places | {header.group(1)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with its spec in specs/ and an empty folder beside it."""
    (tmp_path / "proj" / "specs").mkdir(parents=True)
    (tmp_path / "proj" / "specs" / "x.yaml").write_text(SPEC_TEXT, encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "proj"


@pytest.mark.parametrize("given, cwd, shown", [
    ("specs/x.yaml", ".", "specs/x.yaml"),
    ("./specs/x.yaml", ".", "specs/x.yaml"),
    ("{abs}/specs/x.yaml", ".", "specs/x.yaml"),           # inside the current directory: relative to it
    ("x.yaml", "specs", "x.yaml"),
    ("../specs/x.yaml", "specs", "x.yaml"),                # normalised: that is the current directory
    ("{abs}/specs/x.yaml", "../elsewhere", "x.yaml"),      # outside it: the file name alone
    ("../proj/specs/x.yaml", "../elsewhere", "x.yaml"),
])
def test_the_generated_file_names_the_spec_relative_to_the_current_directory(project, given, cwd, shown):
    given = given.format(abs=project)
    done = run_netc("compile", given, cwd=(project / cwd).resolve())
    assert done.returncode == 0, done.stderr
    source = done.stdout.decode("utf-8")
    assert spec_places(source) == {shown}
    assert str(project.parent) not in source


def test_the_same_spec_gives_the_same_bytes_however_it_is_named(project):
    outputs = {run_netc("compile", name, cwd=project).stdout
               for name in ("specs/x.yaml", "./specs/x.yaml", f"{project}/specs/x.yaml", "specs/../specs/x.yaml")}
    assert len(outputs) == 1


@pytest.mark.parametrize("given, shown", [("specs/x.yaml", "specs/x.yaml"), ("./specs/x.yaml", "specs/x.yaml"),
                                          ("{abs}/specs/x.yaml", "specs/x.yaml")])
def test_compile_source_names_the_spec_by_the_same_rule(project, monkeypatch, given, shown):
    monkeypatch.chdir(project)
    source = netc.compile_source(given.format(abs=project))
    assert spec_places(source) == {shown}
    monkeypatch.chdir(project.parent / "elsewhere")
    assert spec_places(netc.compile_source(str(project / "specs" / "x.yaml"))) == {"x.yaml"}


def test_build_runs_source_that_names_the_spec_by_the_same_rule(project, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(project.parent / "elsewhere")
    model = netc.build(str(project / "specs" / "x.yaml"))
    source = "".join(linecache.getlines(type(model).__init__.__code__.co_filename))
    assert spec_places(source) == {"x.yaml"}
    assert str(project) not in source
