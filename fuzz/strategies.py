"""Input generators and the property every input must satisfy, shared by tests/test_fuzz.py (the
normal suite) and fuzz/run_fuzz.py (the long campaign).

The property: netc's analysis path (load YAML → program → expand → infer) either returns an
Analysis or raises NetcError whose every diagnostic has a span inside the file: a line within the
file's line count and a column within that line plus one. Anything else (another exception, a
span outside the file, a render that fails) is a bug.

Each generator takes a `Chooser`, so one grammar serves two drivers: hypothesis (`draw`, which
shrinks a failing example) and a plain `random.Random` (forty times faster, for volume).
"""

from __future__ import annotations

import functools
import random
import re

import yaml
from hypothesis import strategies as st

from netc.errors import NetcError
from netc.frontend.program import build_program
from netc.frontend.spec import load_yaml

PATH = "fuzz.yaml"


# --- two ways to choose ---------------------------------------------------------------------------------
class Chooser:
    def int(self, low: int, high: int) -> int:
        raise NotImplementedError

    def choice(self, seq):
        return seq[self.int(0, len(seq) - 1)]

    def bool(self) -> bool:
        return self.int(0, 1) == 1

    def one_in(self, n: int) -> bool:
        return self.int(0, n - 1) == 0


@functools.cache
def _integers(low: int, high: int):
    return st.integers(low, high)


class DrawChooser(Chooser):
    def __init__(self, draw):
        self.draw = draw

    def int(self, low, high):
        return self.draw(_integers(low, high))


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, low, high):
        return self.rng.randint(low, high)


# --- the DSL ------------------------------------------------------------------------------------------
LAYER_WORDS = [
    "conv", "CONV", "conv3", "conv1", "conv5", "conv7", "conv11", "convolution", "maxpool", "avgpool",
    "l2pool", "pool", "POOL", "globalavgpool", "gap", "adaptiveavgpool", "fc", "FC", "dense", "linear",
    "relu", "RELU", "leakyrelu", "lrelu", "elu", "sigmoid", "tanh", "softplus", "softmax", "soft-max",
    "logsoftmax", "bn", "batchnorm", "lrn", "norm", "dropout", "flatten", "identity", "reshape",
]
COMMON_WORDS = ["conv3", "conv1", "relu", "maxpool", "bn", "fc", "relu", "conv", "avgpool", "dropout"]
TYPOS = ["covn3", "maxpol", "rleu", "fc_", "softmx", "x", "_", "conv0", "conv99", "input", "add", "concat",
         "projection", "blk", "res", "inc", "stem", "__import__", "eval", "os", "Ω"]
NAMES = ["N", "M", "K", "i", "j", "width", "stride", "c1", "x", "same", "valid", "full", "max", "avg", "true",
         "false", "classes", "undefined"]
NUMBERS = ["0", "1", "2", "3", "8", "16", "64", "4096", "1e3", "0.5", "1.5", "10**100", "2**60",
           "99999999999999999999999", "-1", "1/0", ".5"]
KWARGS = ["filters", "kernel", "stride", "padding", "dilation", "groups", "bias", "units", "type", "size", "p",
          "slope", "alpha", "beta", "k", "ceil", "eps", "channels", "height", "width", "unknown", "STRIDE"]
COUNTS = ["0", "1", "2", "3", "N", "M", "(N+1)", "(2*K)", "1000000000", "(-1)", "x", "2", "3"]
MUTATION_ALPHABET = "()[]<>-*@,=+/%.:#{}'\"\\ \t\n\r|&!?~`$^;0123456789abcxyzNM_é日\x00\x0b\u2028\ufeff"


def expression(c: Chooser, depth: int = 0) -> str:
    if depth > 2 or c.int(0, 3) == 0:
        kind = c.int(0, 2)
        return str(c.int(0, 300)) if kind == 0 else c.choice(NUMBERS) if kind == 1 else c.choice(NAMES)
    text = f"{expression(c, depth + 1)}{c.choice(['+', '-', '*', '/', '//', '%', '**'])}{expression(c, depth + 1)}"
    return f"({text})" if c.bool() else text


def call(c: Chooser, blocks: tuple[str, ...] = ()) -> str:
    pick = c.int(0, 9)
    if blocks and pick < 3:
        word = c.choice(blocks)
    elif pick < 7:
        word = c.choice(COMMON_WORDS)
    elif pick < 9:
        word = c.choice(LAYER_WORDS)
    else:
        word = c.choice(TYPOS)
    if c.one_in(4):
        word += "-" + c.choice(["1", "8", "16", "64", "4096", "0", "99999999999"])
    if c.bool():
        args = [expression(c) for _ in range(c.int(0, 3))]
        kwargs = [f"{c.choice(KWARGS)}={expression(c)}" for _ in range(c.int(0, 2))]
        word += "(" + ", ".join(args + kwargs) + ")"
    return word


def dsl(c: Chooser, depth: int = 0, blocks: tuple[str, ...] = (), marks: tuple[str, ...] = ("features", "a")) -> str:
    """A DSL sequence from the grammar, valid more often than not."""
    items = []
    for _ in range(c.int(1, 4)):
        pick = c.int(0, 9)
        if pick <= 5 or depth >= 3:
            item = call(c, blocks)
        elif pick == 6:
            item = f"<{c.choice(marks)}>"
        elif pick == 7:
            item = f"({dsl(c, depth + 1, blocks, marks)})"
        else:
            item = f"[{dsl(c, depth + 1, blocks, marks)}]"
        if c.one_in(5):
            item = f"{item}*{c.choice(COUNTS)}"
            if c.one_in(4):
                item += "@" + c.choice(["i", "j", "N"])
        items.append(item)
    return c.choice(["-", " - ", "-", "- "]).join(items)


def mutate(c: Chooser, text: str, times: int | None = None) -> str:
    """`text` with a few characters inserted, deleted or replaced, or cut short."""
    for _ in range(c.int(1, 4) if times is None else times):
        if not text:
            text = c.choice(MUTATION_ALPHABET)
            continue
        pos = c.int(0, len(text))
        action = c.int(0, 3)
        ch = c.choice(MUTATION_ALPHABET)
        if action == 0:
            text = text[:pos] + ch + text[pos:]
        elif action == 1:
            text = text[:pos] + text[pos + 1:]
        elif action == 2:
            text = text[:pos] + ch + text[pos + 1:]
        else:
            text = text[:pos]
    return text


# --- YAML spec trees -------------------------------------------------------------------------------------
SCALARS = [0, 1, 2, 3, 16, 300, -1, -3, 10**30, 2**53 + 1, 0.5, 1.5, -0.0, 1e300, float("inf"), float("nan"),
           True, False, None, "same", "valid", "full", "max", "avg", "abc", "", " ", "3x32x32", "1e3",
           "__import__('os')", "a\nb", "x'y\"z", "\t", "{", "*", "&a", "conv3-64", "ü", "0x10"]


def scalar(c: Chooser):
    return c.choice(SCALARS)


def spec_tree(c: Chooser) -> dict:
    """A spec as a Python tree: mostly the right keys and types, sometimes wrong ones."""
    wrong = c.one_in(6)  # now and then, any value anywhere

    def maybe(make):
        if wrong and c.bool():
            return scalar(c) if c.bool() else [scalar(c) for _ in range(c.int(0, 3))]
        return make()

    tree: dict = {}
    names = ["blk", "res", "inc", "stem", "b2", "Blk", "conv", "x y", "__x", "class"]
    blocks = tuple(dict.fromkeys(c.choice(names[:5] if c.int(0, 3) else names) for _ in range(c.int(0, 3))))
    if not c.one_in(6):
        tree["name"] = maybe(lambda: c.choice(["net", "my-net", "Net_2", "a", "x" * 50, "2net", "a b", "__import__",
                                               "import", "class", "os.system"]))
    if not c.one_in(12):
        tree["input"] = maybe(lambda: c.choice([[3, 16, 16], [3, 32, 32], [1, 8, 8], [16], [3, 7, 5], [3, 1, 1],
                                                "3x16x16", [3, 64, 64]]) if c.int(0, 4)
                              else [c.int(-1, 40) for _ in range(c.int(0, 4))])
    if c.bool():
        tree["params"] = maybe(lambda: {c.choice(NAMES): (c.int(0, 6) if c.int(0, 3) else scalar(c))
                                        for _ in range(c.int(0, 4))})
    if c.one_in(4):
        tree["defaults"] = maybe(lambda: {
            c.choice(["conv", "pool", "fc", "dropout", "lrn", "bogus", "CONV"]):
                {c.choice(KWARGS): (c.int(1, 8) if c.bool() else scalar(c)) for _ in range(c.int(0, 3))}
            for _ in range(c.int(0, 3))})
    if blocks:
        defs = {}
        for name in blocks:
            form = c.int(0, 4)
            body = dsl(c, 1, blocks)
            if form == 0:
                defs[name] = body
            elif form == 1:
                defs[name] = {"args": c.choice([[], ["w"], {"w": None, "s": 1}, ["c1", "c2"], [1], "w", {"w": 8}]),
                              "body": body}
            elif form == 2:
                defs[name] = {"parallel": [dsl(c, 1, blocks) for _ in range(c.int(0, 3))]}
            elif form == 3:
                block: dict = {"residual": body}
                if c.bool():
                    block["shortcut"] = c.choice(["auto", "identity", "zeropad", "conv(8, 1)", 3, "bogus"])
                if c.bool():
                    block["after"] = c.choice(["relu", "bn-relu", "bogus", ""])
                defs[name] = block
            else:
                defs[name] = scalar(c)
        tree["blocks"] = defs
    if not c.one_in(12):
        if c.one_in(4):
            tree["network"] = [dsl(c, 0, blocks) for _ in range(c.int(0, 3))]
        else:
            tree["network"] = maybe(lambda: dsl(c, 0, blocks))
    if c.one_in(5):
        heads = {}
        for name in dict.fromkeys(c.choice(["scores", "boxes", "out", "2x", "class", "a b"]) for _ in range(c.int(0, 2))):
            if c.bool():
                heads[name] = dsl(c, 1, blocks)
            else:
                heads[name] = {"from": c.choice(["features", "a", "nowhere", "<features>", 3]), "body": dsl(c, 1, blocks)}
        tree["heads"] = maybe(lambda: heads)
    if c.one_in(11):
        tree[c.choice(["netwrok", "inputs", "head", "param", "Network"])] = scalar(c)
    return tree


def spec_text(c: Chooser) -> str:
    """A spec as YAML text: a generated tree dumped in block or flow style, sometimes mutated."""
    tree = spec_tree(c)
    text = yaml.safe_dump(tree, default_flow_style=c.choice([False, None, True]), sort_keys=c.bool(),
                          allow_unicode=True, width=c.choice([80, 30, 10**6]))
    kind = c.int(0, 9)
    if kind == 0:
        return mutate(c, text)
    if kind == 1:  # a line-level mistake: a line dropped, doubled, tab-indented or shifted
        lines = text.split("\n")
        i = c.int(0, max(0, len(lines) - 1))
        action = c.int(0, 3)
        if action == 0:
            del lines[i]
        elif action == 1:
            lines.insert(i, lines[i])
        elif action == 2:
            lines[i] = "\t" + lines[i]
        else:
            lines[i] = " " + lines[i]
        return "\n".join(lines)
    if kind == 2:
        return text.replace("\n", c.choice(["\r\n", "\r"]))
    return text


def dsl_spec(c: Chooser) -> str:
    """A fixed, valid spec around a generated (sometimes mutated) DSL string."""
    network = dsl(c)
    if c.one_in(3):
        network = mutate(c, network)
    quoted = yaml.safe_dump(network, default_style='"', width=10**6).strip()
    return f"name: fuzz\ninput: [3, 16, 16]\nparams: {{N: 2, M: 2, K: 1}}\nnetwork: {quoted}\n"


def raw_text(c: Chooser) -> str:
    """Text with no structure at all, over an alphabet YAML and the DSL care about."""
    alphabet = MUTATION_ALPHABET + "abcdefghijklmnopqrstuvwxyz"
    return "".join(c.choice(alphabet) for _ in range(c.int(0, 120)))


def any_spec(c: Chooser) -> str:
    pick = c.int(0, 9)
    if pick < 4:
        return spec_text(c)
    if pick < 7:
        return dsl_spec(c)
    if pick < 8:
        return raw_text(c)
    return mutate(c, spec_text(c))


def strategy(generator) -> st.SearchStrategy[str]:
    """A hypothesis strategy from a generator: examples shrink."""
    return st.composite(lambda draw: generator(DrawChooser(draw)))()


def seeded(generator) -> st.SearchStrategy[str]:
    """A hypothesis strategy that seeds a plain Random: fast, shrinks only the seed."""
    return st.integers(0, 2**63 - 1).map(lambda seed: generator(RandomChooser(random.Random(seed))))


# --- the property -------------------------------------------------------------------------------------------
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def check_diagnostics(text: str, error: NetcError, path: str = PATH) -> None:
    """Every diagnostic points inside the file, and renders as `path:line:col: error: …`."""
    shown = text.removeprefix("\ufeff")  # netc drops a byte-order mark
    lines = _LINE_BREAK.split(shown)
    assert error.diagnostics, "a NetcError without diagnostics"
    for d in error.diagnostics:
        assert d.severity in ("error", "warning"), d
        assert d.message and "\n" not in d.message, f"message spans lines: {d.message!r}"
        assert d.span is not None, f"no span: {d.message}"
        assert d.span.path == path, d.span
        assert 1 <= d.span.line <= len(lines), f"line {d.span.line} of {len(lines)}: {d.message}"
        line = lines[d.span.line - 1]
        assert 1 <= d.span.col <= len(line) + 1, f"col {d.span.col} of a {len(line)}-char line: {d.message}"
        if d.span.source_line:
            assert d.span.source_line == line, (d.span.source_line, line)
        rendered = d.render()
        assert rendered.startswith(f"{path}:{d.span.line}:{d.span.col}: {d.severity}: "), rendered
    str(error)


def analyze_text(text: str, max_layers: int = 2000, path: str = PATH):
    """The analysis path on one spec text: the Analysis, or the NetcError it raised (checked)."""
    from netc.analysis.pipeline import analyze_program

    try:
        return analyze_program(build_program(load_yaml(text, path)), max_layers)
    except NetcError as error:
        check_diagnostics(text, error, path)
        return error


# --- small networks that are mostly valid, to build ---------------------------------------------------------
def small_network(c: Chooser) -> str:
    """A small spec that usually passes every check, so the built module can be compared with the
    analysis: convs, pools, norms, activations, a residual and a parallel block, heads."""
    size = c.choice([8, 12, 16, 17])
    channels = c.choice([1, 3, 4])
    body, spatial = [], size
    blocks = {
        "res": "{args: {w: null, s: 1}, residual: 'conv(w, 3, stride=s)-bn-relu-conv(w, 3)-bn', after: relu}",
        "inc": "{args: [a, b], parallel: ['conv(a, 1)', 'conv(b, 1)-conv(b, 3)', 'maxpool(3, stride=1, padding=1)']}",
        "res2": "{args: [w], residual: 'conv(w, 1)-relu', shortcut: identity}",
    }
    width = channels
    for _ in range(c.int(1, 6)):
        pick = c.int(0, 9)
        if pick < 3:
            filters = c.choice([4, 8, 16])
            kernel = c.choice([1, 3, 5])
            body.append(c.choice([f"conv{kernel}-{filters}", f"conv({filters}, {kernel})",
                                  f"conv({filters}, {kernel}, bias=false)", f"conv({filters}, {kernel}, padding=valid)"
                                  if spatial > kernel else f"conv{kernel}-{filters}"]))
            width = filters
        elif pick == 3 and spatial >= 4:
            body.append(c.choice(["maxpool", "avgpool", "maxpool(3, stride=2, padding=1)", "l2pool", "pool(2, ceil=true)"]))
            spatial = (spatial + 1) // 2
        elif pick == 4:
            body.append(c.choice(["relu", "bn", "dropout(0.3)", "lrn", "leakyrelu(0.2)", "elu", "tanh", "sigmoid"]))
        elif pick == 5:
            body.append(f"res({c.choice([4, 8])}, s={c.choice([1, 1, 2])})")
            spatial = spatial if "s=1" in body[-1] else (spatial + 1) // 2
            width = int(body[-1][4])
        elif pick == 6:
            body.append(f"inc({c.int(1, 4)}, {c.int(1, 4)})")
        elif pick == 7:
            body.append(f"res2({width})")
        elif pick == 8:
            body.append(f"(conv3-{width}-relu)*{c.int(0, 2)}")
        else:
            body.append(f"[conv3-8-bn-relu]*{c.int(1, 2)}@i")
            width = 8
    tail = c.choice(["globalavgpool-fc(10)", "fc(10)", "flatten-fc(5)-softmax", "gap-fc(7)-logsoftmax", "", "fc(3)-relu"])
    network = " - ".join(body + ([tail] if tail else []))
    heads = ""
    if c.one_in(4):
        network = " - ".join(body) + " - <features> - " + (tail or "fc(4)")
        heads = "heads:\n  out: fc(2)\n  side: {from: features, body: 'conv1-4-gap-fc(3)'}\n"
    blocks_text = "".join(f"  {name}: {text}\n" for name, text in blocks.items())
    return f"name: small\ninput: [{channels}, {size}, {size}]\nblocks:\n{blocks_text}network: \"{network}\"\n{heads}"
