#!/usr/bin/env bash
# Set up a virtualenv with everything netc and its tests need, and Graphviz's `dot`.
#
#   scripts/setup.sh          .venv from requirements/test.lock: the exact versions (`make setup`)
#   scripts/setup.sh oldest   .venv-oldest from requirements/oldest.txt: the minimum of every range
#                             in pyproject.toml (`make test-oldest`)
#   scripts/setup.sh latest   .venv-latest with the newest versions pyproject.toml allows
#                             (`make test-latest`, and `make lock` in a throwaway venv)
#
# torch is the one exception: it is installed only when missing, as the pinned CPU wheel
# (TORCH_VERSION), because an open range pulls a multi-GB CUDA build from the registry. A torch
# that the venv already has is kept in every mode. NETC_TORCH=none installs no torch at all (for a
# Python with no CPU wheel to be had; the tests that need torch then skip or fail by name).
# Environment: PYTHON (default python3), VENV (default per mode), TORCH_VERSION, NETC_TORCH.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:-lock}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
case "$MODE" in
    lock) VENV=${VENV:-.venv}; REQUIREMENTS=requirements/test.lock ;;
    oldest) VENV=${VENV:-.venv-oldest}; REQUIREMENTS=requirements/oldest.txt ;;
    latest) VENV=${VENV:-.venv-latest}; REQUIREMENTS= ;;
    *) echo "usage: scripts/setup.sh [lock|oldest|latest]" >&2; exit 2 ;;
esac
PY="$VENV/bin/python"
PIP=("$PY" -m pip --quiet --disable-pip-version-check)

# A venv made by another Python (PYTHON=python3.12 after a 3.11 run) is made again.
want=$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')
if [ -x "$PY" ] && [ "$("$PY" -c 'import sys; print(sys.version.split()[0])')" != "$want" ]; then
    rm -rf "$VENV"
fi
if [ ! -x "$PY" ]; then
    "$PYTHON" -m venv "$VENV"
fi

# Nothing to do when this venv was last set up from the same files, by the same Python.
stamp="$VENV/.netc-setup"
key=$(cat scripts/setup.sh pyproject.toml ${REQUIREMENTS:+"$REQUIREMENTS"} | sha256sum | cut -c1-16)
key="$MODE $want ${NETC_TORCH:-torch} $key"
if [ "$MODE" != latest ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] \
    && "$PY" -c "import netc" >/dev/null 2>&1; then
    fresh=1
else
    fresh=0
    rm -f "$stamp"
fi

# Whether torch is installed, asked of its metadata: before its dependencies arrive it cannot be
# imported, and the pin that keeps it below must not miss it.
torch_version() { "$PY" -c "import importlib.metadata as m; print(m.version('torch'))" 2>/dev/null || true; }

if [ "$fresh" = 0 ]; then
    if [ "${NETC_TORCH:-}" != none ] && [ -z "$(torch_version)" ]; then
        # --no-deps: its dependencies come pinned from the requirements below (or, for `latest`,
        # newest); torch's own wheel is the one thing taken as the machine has it.
        "${PIP[@]}" install --no-deps "torch==$TORCH_VERSION"
    fi
    if [ "$MODE" = latest ]; then
        # Newest of everything pyproject.toml allows, but the torch that is there.
        keep=$(mktemp)
        trap 'rm -f "$keep"' EXIT
        if [ -n "$(torch_version)" ]; then
            echo "torch==$(torch_version)" >"$keep"
        fi
        "${PIP[@]}" install --upgrade --upgrade-strategy eager -c "$keep" pip setuptools wheel
        "${PIP[@]}" install --upgrade --upgrade-strategy eager -c "$keep" -e ".[dev,train,onnx,tensorboard,timm]"
    else
        reqs=$REQUIREMENTS
        if [ "${NETC_TORCH:-}" = none ]; then
            reqs=$(mktemp)
            trap 'rm -f "$reqs"' EXIT
            grep -v '^torch==' "$REQUIREMENTS" >"$reqs"
        fi
        if [ "$MODE" = lock ]; then
            # Exactly the lock and nothing else: a package missing from it fails `pip check` below
            # instead of arriving unpinned.
            "${PIP[@]}" install --no-deps -r "$reqs"
        else
            # The minimums of the direct requirements; what they need comes newest.
            "${PIP[@]}" install -r "$reqs"
        fi
        # Built by the setuptools just installed, not by a newest one in an isolated build env.
        "${PIP[@]}" install --no-deps --no-build-isolation -e .
    fi
    # Every installed package's requirements are met (netc's ranges, torch's own), or setup fails.
    if ! problems=$("$PY" -m pip check 2>&1); then
        if [ "${NETC_TORCH:-}" = none ]; then  # torch left out on purpose; anything else is a failure
            problems=$(grep -v "requires torch, which is not installed" <<<"$problems" || true)
        fi
        if [ -n "$problems" ]; then
            echo "$problems" >&2
            exit 1
        fi
    fi
    echo "$key" >"$stamp"
fi

# Graphviz's `dot` renders svg/png/pdf; netc still writes .dot without it.
if ! command -v dot >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
            || echo "setup: could not install graphviz; rendering will write .dot only" >&2
    else
        echo "setup: Graphviz 'dot' not found; install it (apt-get install graphviz) for svg/png/pdf" >&2
    fi
fi
echo "setup: $VENV ready ($MODE; Python $want; $("$PY" -c 'import importlib.util as u
if u.find_spec("torch"):
    import torch; print("torch", torch.__version__)
else:
    print("no torch")'))"
