"""Backends: IR and analysis → files.

Takes a Network with its Analysis and gives PyTorch source (codegen), Graphviz pictures
(drawing), ONNX files (onnx_export), the spec's JSON Schema (schema), the notebook's HTML
(notebook), each written through fileio (no half-written output). Backends ask each node's
kind; they never compare kind names and never reach back into the front end.
"""
