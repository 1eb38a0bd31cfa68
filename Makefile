# The two commands a newcomer needs: `make demo` and `make test` (each sets up from nothing).
.PHONY: setup demo test bench clean

setup:
	bash scripts/setup.sh

demo: setup
	bash scripts/demo.sh

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/run_all.py

clean:
	rm -rf .venv build out *.egg-info
