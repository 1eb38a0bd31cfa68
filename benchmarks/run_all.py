"""Run every benchmark in this folder, one after another (`make bench`).

Each benchmark records its own results in a RESULTS-*.md file beside it; this script only runs
them with their default settings and reports which failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["table_speed.py", "limits_speed.py", "scaling.py", "train_step.py", "memory_peaks.py", "inference_speed.py"]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            continue
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
