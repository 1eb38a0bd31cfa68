"""netc's version, in one place: the package, the CLI and every generated file's header."""

__version__ = "0.1.0"
