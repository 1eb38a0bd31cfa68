#!/usr/bin/env bash
# Set up everything netc needs from a fresh clone: a virtualenv in .venv with torch (the pinned
# CPU wheel when torch is absent), the package and its dev tools, and Graphviz's `dot`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
PY=.venv/bin/python

# torch first, pinned: an open range would pull a multi-GB CUDA build from the registry.
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[dev]"

# Graphviz's `dot` renders svg/png/pdf; netc still writes .dot without it.
if ! command -v dot >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
            || echo "setup: could not install graphviz; rendering will write .dot only" >&2
    else
        echo "setup: Graphviz 'dot' not found; install it (apt-get install graphviz) for svg/png/pdf" >&2
    fi
fi
echo "setup: ready ($("$PY" -c 'import torch; print("torch", torch.__version__)'))"
