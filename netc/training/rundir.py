"""The run directory, runs/NAME: its name, its config.json, and what `--resume` reads back.

    runs/NAME/config.json   the effective training config, the spec, its params, the data, versions
    runs/NAME/model.py      the generated network (netc.compile_source), standalone
    runs/NAME/best.pth      the best validation epoch's weights, a plain state_dict for model.py
    runs/NAME/last.pt       the latest checkpoint: what --resume continues from
    runs/NAME/metrics.csv   one row per epoch
    runs/NAME/curves.png    loss and accuracy, train and val, per epoch

No torch here: netc.cli reads a resumed run's config before the analysis.
"""

from __future__ import annotations

import json
import os
import re

from ..backends.fileio import write_atomic
from ..errors import UsageError

CONFIG = "config.json"


def choose_run_dir(runs: str, name: str | None, default: str) -> str:
    """--name as given (refused if it already holds a run), or the spec's name, numbered -2, -3, …
    past the runs already there."""
    if name is not None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name):
            raise UsageError(f"--name {name!r}: use letters, digits, '.', '_' and '-'")
        path = os.path.join(runs, name)
        if os.path.exists(os.path.join(path, CONFIG)):
            raise UsageError(f"{path} already holds a run: continue it with --resume {path}, or pick another --name")
        return path
    path, k = os.path.join(runs, default), 1
    while os.path.exists(path):
        k += 1
        path = os.path.join(runs, f"{default}-{k}")
    return path


def make_run_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path}: cannot make the run directory ({exc.strerror})") from None


def write_config(path: str, config: dict) -> None:
    write_atomic(os.path.join(path, CONFIG), json.dumps(config, indent=2, sort_keys=True) + "\n")


def read_config(run_dir: str) -> dict:
    path = os.path.join(run_dir, CONFIG)
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"--resume {run_dir}: no {CONFIG} there; is it a netc run directory?") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"--resume {run_dir}: cannot read {CONFIG} ({exc})") from None
    if not isinstance(config, dict) or not {"spec", "train", "data"} <= set(config):
        raise UsageError(f"--resume {run_dir}: {CONFIG} is not a netc run's config")
    return config


def prepare_resume(args) -> None:
    """A resumed run is the same network on the same data: the spec, params, scale and input come
    from its config.json. A different spec or -D on the command line is refused, not silently used."""
    if not getattr(args, "resume", None):
        if not args.spec:
            raise UsageError("netc train needs a spec file (or --resume RUN_DIR)")
        if args.data is None:
            raise UsageError("netc train needs --data: digits, an image folder, or a CIFAR-10 directory")
        return
    config = read_config(args.resume)
    if args.spec and os.path.abspath(args.spec) != config["spec"]:
        raise UsageError(f"--resume {args.resume}: that run trains {config['spec']}, not {args.spec}")
    if args.defines and dict(args.defines) != {k: v for k, v in config.get("defines", {}).items()
                                               if k in dict(args.defines)}:
        raise UsageError(f"--resume {args.resume}: -D cannot change the params of a run ({config.get('defines')})")
    if args.data is not None and args.data != config["data"]:
        raise UsageError(f"--resume {args.resume}: that run trains on {config['data']}, not {args.data}")
    args.spec = config["spec"]
    args.defines = sorted(config.get("defines", {}).items())
    args.scale = config.get("scale")
    args.input = tuple(config["input"]) if config.get("input") else None
    args.data = config["data"]
