"""Analysis: graph IR → facts about the network. Never imports torch.

Takes a Network and gives an Analysis (annotated): shapes, parameters, MACs/FLOPs and
receptive fields per layer (infer), training memory and liveness peaks (memory, liveness)
for a target machine (targets: oneDNN on AVX-512/AVX2, torch's own kernels, CUDA),
and the per-layer table as text, markdown, csv, json (table) or HTML (table_html).
pipeline runs the path in one call: spec file → checked, annotated network.
"""
