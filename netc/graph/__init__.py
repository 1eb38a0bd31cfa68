"""The middle: AST → graph IR.

Takes a Program and gives a Network (ir): every layer a node with its bound attributes
(attributes), block scopes (scopes), named points (points), expanded in the concrete
domain (expand) or as symbolic block templates (templates) by the one AST reader (expander).
Asks netc.layers about each kind; knows nothing of shapes, tables or torch.
"""
