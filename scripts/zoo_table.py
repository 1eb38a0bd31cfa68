"""Regenerate the zoo table in README.md from netc's own analysis of every spec in specs/.

    python scripts/zoo_table.py            # rewrite the text between the zoo markers
    python scripts/zoo_table.py --check    # exit 1 when README.md is out of date (tests/test_zoo.py does this)
    python scripts/zoo_table.py --print    # print the table

Nothing in the table is typed by hand: each row is one spec (or one spec with -D overrides, listed
in VARIANTS), described by the first line of its leading comment up to " (", and measured by
netc.analysis — parameters, FLOPs (torch's FlopCounterMode convention: 2 × MACs of conv and fc),
and activations counted as the lecture notes count them (the input plus one volume per
conv/pool/fc/merge layer, values per image).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import readme_section

from netc.analysis.pipeline import analyze_file
from netc.layers import fmt_shape

START, END = "<!-- zoo:start -->", "<!-- zoo:end -->"

# Row order: roughly the lecture notes' history of architectures; specs not listed follow, sorted.
ORDER = [
    "lenet5", "alexnet", "alexnet_torchvision", "zfnet",
    "vgg11", "vgg11_lrn", "vgg13", "vgg16_conv1", "vgg16", "vgg19",
    "googlenet", "googlenet_torchvision",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet_cifar",
    "alphago_policy", "localization", "yolo_v1", "generic",
    "squeezenet", "mobilenet_v1", "mobilenet_v2", "densenet121",
]

# Extra rows: the same spec with -D overrides (or a preset of its scales:, "scale"), after its default row.
VARIANTS: dict[str, list[dict[str, int | str]]] = {
    "resnet_cifar": [{"depth": 56}, {"depth": 110}, {"depth": 1202}],
    "generic": [{"N": 3, "M": 4, "K": 2}],
    "yolov8": [{"scale": s} for s in ("s", "m", "l", "x")],
}


def title(path: Path) -> str:
    """The spec's first comment line, up to its first " (" (the citation); the editor's schema
    line (`# yaml-language-server: $schema=…`, README "Editors") is no title."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and line.lstrip("# ").startswith("yaml-language-server:"):
            continue
        if line.startswith("#"):
            return line.lstrip("# ").split(" (", 1)[0].rstrip(" ,:;.")
        if line.strip():
            break
    return path.stem


def _count(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _outputs(analysis) -> dict[str, tuple]:
    """Each output's shape; a per-RoI one with its R RoIs per image first (R×21)."""
    found = {}
    for name, node in analysis.network.outputs:
        layer = analysis[node]
        found[name] = (layer.row_count, *layer.shape) if layer.rows else layer.shape
    return found


def _inputs(analysis) -> str:
    """The input's shape, or each named input's after the first (3×800×600 + rois 2000×5)."""
    net = analysis.network
    text = fmt_shape(net.input_shape)
    for node_id in [n for n in net.order if not net.node(n).inputs][1:]:
        node = net.node(node_id)
        rows = (node.attrs["rows"],) if "rows" in node.attrs else ()
        text += f" + {node.attrs['name']} {fmt_shape((*rows, *analysis[node_id].shape))}"
    return text


def row(path: Path, overrides: dict[str, int | str] | None = None) -> str:
    defines = {k: v for k, v in (overrides or {}).items() if k != "scale"}
    scale = (overrides or {}).get("scale")
    analysis = analyze_file(str(path), defines or None, scale=scale)
    rel = path.relative_to(ROOT).as_posix()
    spec = (f"[`{path.stem}`]({rel})" + (f" `--scale {scale}`" if scale else "")
            + "".join(f" `-D {k}={v}`" for k, v in defines.items()))
    outputs = ", ".join(
        fmt_shape(shape) if name == "output" else f"{name} {fmt_shape(shape)}"
        for name, shape in _outputs(analysis).items()
    )
    cells = [
        spec,
        title(path) if not overrides else "″",
        _inputs(analysis),
        outputs,
        f"{analysis.params:,}",
        _gflops(analysis.flops),
        _count(analysis.activations),
    ]
    return "| " + " | ".join(cells) + " |"


def _gflops(flops: int) -> str:
    g = flops / 1e9
    return f"{g:.2f}" if g >= 0.1 else f"{g:.2g}"


def table(specs_dir: Path = ROOT / "specs") -> str:
    lines = [
        "| spec | network | input | output | params | GFLOPs | activations |",
        "| --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    paths = sorted(specs_dir.glob("*.yaml"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    for path in paths:
        lines.append(row(path))
        for overrides in VARIANTS.get(path.stem, []):
            lines.append(row(path, overrides))
    return "\n".join(lines)


def updated_readme(text: str, generated: str) -> str:
    return readme_section.updated_readme(text, generated, START, END)


def main(argv: list[str] | None = None) -> int:
    return readme_section.main(__doc__.splitlines()[0], table, START, END, "the zoo table", "zoo_table.py", argv)


if __name__ == "__main__":
    raise SystemExit(main())
