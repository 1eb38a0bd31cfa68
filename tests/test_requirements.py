"""The version files agree with pyproject.toml: every range has a minimum, requirements/oldest.txt
pins exactly those minimums (so `make test-oldest` tries what pyproject.toml claims), and
requirements/test.lock pins every requirement to one version inside its range."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement  # pytest depends on packaging, so it is there
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]  # dev, train, …
    return [Requirement(r) for r in project["dependencies"] + extras]


def pins(name: str) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for line in (ROOT / "requirements" / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
            assert match, f"{name}: not an exact pin: {line!r}"
            assert canonicalize_name(match[1]) not in out, f"{name}: {match[1]} pinned twice"
            out[canonicalize_name(match[1])] = Version(match[2])
    return out


def minimum(req: Requirement) -> Version:
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    assert lows, f"pyproject.toml: {req} has no minimum, so no oldest version can be tried"
    return max(lows)


def test_oldest_pins_the_minimum_of_every_range():
    oldest = pins("oldest.txt")
    wanted = {canonicalize_name(r.name): minimum(r) for r in declared()}
    assert oldest == wanted


def test_the_lock_pins_every_requirement_inside_its_range():
    lock = pins("test.lock")
    for req in declared():
        name = canonicalize_name(req.name)
        if name == "torch":  # installed by scripts/setup.sh from the machine's CPU wheel, not the lock
            assert name not in lock
            continue
        assert name in lock, f"test.lock has no {req.name}"
        assert req.specifier.contains(lock[name], prereleases=True), f"test.lock: {req.name}=={lock[name]} not in {req}"


def test_setup_pins_the_torch_that_pyproject_allows():
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    (pinned,) = re.findall(r"TORCH_VERSION:-([0-9.]+)\}", setup)
    (torch,) = [r for r in declared() if canonicalize_name(r.name) == "torch"]
    assert torch.specifier.contains(pinned)
