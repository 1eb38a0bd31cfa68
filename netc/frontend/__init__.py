"""The front end: spec text → AST.

Takes a spec file's text (YAML with DSL strings) and gives a Program: the checked YAML tree
(spec, yaml_errors, source), each DSL string parsed by grammar/netc.lark (parse) into the
AST (ast), argument expressions (exprs), symbolic sizes (symbolic) and `init:` (initspec).
program/ reads the YAML tree into a Program; it checks layer words against netc.layers.
Errors are netc.errors values with a source span; nothing here knows the IR.
"""
