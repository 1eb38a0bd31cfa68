# The two commands a newcomer needs: `make demo` and `make test` (each sets up from nothing).
# Versions: `make setup` installs requirements/test.lock exactly; `make lock` writes it afresh;
# `make test-latest` and `make test-oldest` run the suite against the newest and the oldest
# versions pyproject.toml allows, each in its own venv (see the README, "Set-up and dependencies").
# PYTHON=... picks the interpreter; NETC_TORCH=none leaves torch out (scripts/setup.sh).
.PHONY: setup demo test bench clean lock test-latest test-oldest

OLDEST_VENV ?= .venv-oldest

setup:
	VENV=.venv bash scripts/setup.sh lock

demo: setup
	bash scripts/demo.sh

test: setup
	.venv/bin/python -m pytest

lock:
	bash scripts/lock.sh

test-latest:
	VENV=.venv-latest bash scripts/setup.sh latest
	.venv-latest/bin/python -m pytest

test-oldest:
	VENV=$(OLDEST_VENV) bash scripts/setup.sh oldest
	$(OLDEST_VENV)/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/run_all.py

clean:
	rm -rf .venv .venv-latest .venv-oldest* build out *.egg-info
