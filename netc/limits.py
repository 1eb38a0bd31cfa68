"""Size limits every command knows before it reads a spec: here, apart from the expander, so that
the command line can state them without importing the front end (`netc --version` imports none of it)."""

DEFAULT_MAX_LAYERS = 100_000
