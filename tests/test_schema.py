"""`netc schema`: the JSON Schema of spec files, for editors (README, "Editors").

- The schema is a valid draft-07 schema; schema/netc.schema.json is exactly what `netc schema`
  prints (regenerate it with `netc schema -o schema/netc.schema.json`), and the command imports
  no torch.
- Every spec in specs/ starts with the yaml-language-server line pointing at the shipped file, and
  validates; so do the README's complete examples.
- The corpus tests/schema_corpus/ holds bad specs, each rejected by both the schema and netc: its
  `# schema:` line names where the schema must object (a dotted path; empty for the top), its
  `# netc:` line a part of netc's message.
- Where the schema states a rule of netc's again as a pattern (names, input text, init methods,
  the train values, each attribute's values in `defaults:`), a sample of values is run through both:
  what netc accepts the schema accepts, and what netc refuses the schema refuses, less the few
  spellings the schema deliberately leaves to netc (listed with each sample).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from netc.analysis.pipeline import analyze_file
from netc.backends.schema import schema_text, spec_schema
from netc.cli import main
from netc.errors import NetcError
from netc.frontend.program.checks import check_identifier
from netc.frontend.program.init_config import read_init
from netc.frontend.program.scales import read_scales
from netc.frontend.program.train_config import TRAIN_KEYS, check_value
from netc.frontend.program.values import defaults_sections, read_input_shape
from netc.frontend.spec import load_yaml, read_spec_text

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "schema" / "netc.schema.json"
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
CORPUS = sorted((ROOT / "tests" / "schema_corpus").glob("*.yaml"))
MODELINE = "# yaml-language-server: $schema=../schema/netc.schema.json"
VALIDATOR = jsonschema.Draft7Validator(spec_schema())


def document(path: Path):
    """The spec as netc's own YAML loader reads it (YAML 1.1 booleans, its number spellings)."""
    return load_yaml(read_spec_text(str(path)), str(path)).plain()


def schema_accepts(doc) -> bool:
    return VALIDATOR.is_valid(doc)


def spec(**keys):
    """A minimal spec with some keys set."""
    return {"input": [3, 8, 8], "network": "conv3-4-relu", **keys}


# --- the schema itself ------------------------------------------------------------------------
def test_the_schema_is_a_valid_draft_07_schema():
    schema = spec_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)


def test_the_shipped_schema_is_what_netc_schema_prints():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    assert out.getvalue() == schema_text()
    assert SHIPPED.read_text(encoding="utf-8") == schema_text(), (
        "schema/netc.schema.json is out of date: run `netc schema -o schema/netc.schema.json`")


def test_netc_schema_writes_a_file_and_imports_no_torch(tmp_path):
    target = tmp_path / "netc.schema.json"
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "netc", "schema", "-o", str(target)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "netc.backends.schema" in modules  # the list is real
    assert not any(m == "torch" or m.startswith("torch.") for m in modules)
    assert json.loads(target.read_text(encoding="utf-8")) == spec_schema()


# --- what must validate -----------------------------------------------------------------------
@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_names_the_schema_and_validates(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == MODELINE, f"{path.name}: the first line should be {MODELINE!r}"
    # the yaml-language-server resolves the path from the spec's own directory
    assert (path.parent / first.split("$schema=", 1)[1]).resolve() == SHIPPED
    errors = sorted(VALIDATOR.iter_errors(document(path)), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def test_the_readme_examples_validate():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = [block for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
                if re.search(r"^network:", block, re.MULTILINE) and "…" not in block]
    assert len(examples) >= 2
    for text in examples:
        doc = load_yaml(text, "example.yaml").plain()
        doc.setdefault("input", [3, 64, 64])
        assert schema_accepts(doc), text


# --- what must not ----------------------------------------------------------------------------
def _expectations(path: Path) -> tuple[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    where = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("# schema:"))
    said = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("# netc:"))
    return where, said


def _error_paths(errors) -> set[str]:
    """Where each error (and each error under an anyOf/oneOf) objects, as dotted paths; an
    unexpected key counts at the key itself."""
    found = set()
    for error in errors:
        base = list(error.absolute_path)
        found.add(".".join(map(str, base)))
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = error.schema.get("properties", {})
            found.update(".".join(map(str, base + [key])) for key in error.instance if key not in known)
        found |= _error_paths(error.context or [])
    return found


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_a_bad_spec_is_rejected_by_the_schema_and_by_netc(path):
    where, said = _expectations(path)
    errors = list(VALIDATOR.iter_errors(document(path)))
    assert errors, f"{path.name}: the schema accepts it"
    paths = _error_paths(errors)
    assert where in paths, f"{path.name}: the schema objects at {sorted(paths)}, not at {where!r}"
    with pytest.raises(NetcError) as caught:
        analyze_file(str(path))
    assert said in str(caught.value), str(caught.value)


def test_the_corpus_covers_every_part_of_the_spec():
    parts = {_expectations(p)[0].split(".", 1)[0] for p in CORPUS}
    assert parts >= {"", "input", "name", "network", "params", "scales", "defaults", "include", "blocks", "heads", "init",
                     "train", "freeze", "layers"}
    assert len(CORPUS) >= 30


# --- rules the schema states again, sampled through both ----------------------------------------
def _netc_accepts(check, *args) -> bool:
    try:
        check(*args)
    except (NetcError, ValueError):
        return False
    return True


def _agree(samples, netc_ok, schema_ok, loose=()):
    """netc's verdict on each sample against the schema's; `loose`: samples netc refuses that the
    schema leaves to netc."""
    for sample in samples:
        if netc_ok(sample):
            assert schema_ok(sample), f"the schema refuses {sample!r}, which netc accepts"
        elif sample not in loose:
            assert not schema_ok(sample), f"the schema accepts {sample!r}, which netc refuses"


NAMES = ["x", "conv_1", "_a", "A1", "1a", "a-b", "a b", "__x", "class", "None", "match", "é", "", "a.b"]


def test_names_agree_with_check_identifier():
    _agree(NAMES, lambda n: _netc_accepts(check_identifier, n, None, "param"),
           lambda n: schema_accepts(spec(params={n: 1})))
    _agree(NAMES, lambda n: _netc_accepts(check_identifier, n, None, "head name"),
           lambda n: schema_accepts(spec(network="conv3-4-<p>-relu", heads={n: "fc(2)"})))


SCALE_NAMES = ["n", "x0_5", "x1_0", "1.0", "1_0", "0.5", "s-2", "a b", "_x", ".5", "-s", "", "é", "x/2"]


def test_scale_names_agree_with_the_reader():
    def netc_ok(name):
        return _netc_accepts(read_scales, load_yaml(json.dumps({name: {"w": 1}}), "s.yaml"), ["w"])

    _agree(SCALE_NAMES, netc_ok, lambda n: schema_accepts(spec(params={"w": 1}, scales={n: {"w": 2}})))


def test_input_text_agrees_with_read_input_shape():
    samples = ["3x224x224", "3X224X224", " 3 x 224 x 224 ", "3×224×224", "3,224,224", "10", "224x224",
               "3x224x", "axb", "", "3x224x224x1", "3-224-224", "0x5x5", "3x9999999x5"]
    loose = {"0x5x5", "3x9999999x5"}  # the sizes' range is netc's to say for text

    def netc_ok(text):
        return _netc_accepts(read_input_shape, load_yaml(json.dumps(text), "s.yaml"))

    _agree(samples, netc_ok, lambda t: schema_accepts(spec(input=t)), loose)


INIT_TEXTS = ["zeros", "zeros()", " ones ", "default", "normal(0.01)", "normal(0.01, 0.5)", "normal", "normal()",
              "normal(0.01,)", "normal(abc)", "normal(inf)", "normal(nan)", "normal(1e-2)", "uniform(.5)",
              "constant(-1)", "constant(+2.5e3)", "zeros(1)", "kaiming_normal", "kaiming_normal(fan_out)",
              "kaiming_normal(fan_out, relu)", "kaiming_normal( fan_in ,leaky_relu )", "kaiming_normal(fan_mid)",
              "kaiming_normal(fan_out, relu, 1)", "kaiming_norml", "xavier_uniform(2)", "trunc_normal(0.02)",
              "gaussian(0.01)", "normal[0.01]", "normal(0.01"]


def test_init_methods_agree_with_the_reader():
    def netc_ok(text):
        return _netc_accepts(read_init, load_yaml(json.dumps({"conv": text}), "s.yaml"))

    def netc_ok_on(kind, part):
        return lambda text: _netc_accepts(read_init, load_yaml(json.dumps({kind: {part: text}}), "s.yaml"))

    _agree(INIT_TEXTS, netc_ok, lambda t: schema_accepts(spec(init={"conv": t})))
    # A bias, a norm's scale, PReLU's slopes have one dimension: both refuse the fan-based methods there.
    for kind, part in (("fc", "bias"), ("bn", "weight"), ("prelu", "weight"), ("fc", "weight")):
        _agree(INIT_TEXTS, netc_ok_on(kind, part), lambda t, kind=kind, part=part: schema_accepts(
            spec(init={kind: {part: t}})))
    assert not netc_ok_on("fc", "bias")("kaiming_normal") and netc_ok_on("fc", "weight")("kaiming_normal")
    # A kind whose module has no bias takes none, in both.
    assert not netc_ok_on("prelu", "bias")("zeros") and not schema_accepts(spec(init={"prelu": {"bias": "zeros"}}))


TRAIN_VALUES = [0, 1, 2, -1, 0.5, 0.999, 1.5, 3.0, 2**31, True, False, None, "0.1", "sgd", "adam", "adamw", "cosine",
                "step", "constant", "off", "bf16", "fp16", "rmsprop", [], ["stem"], ["stem", ""], [1], "stem,stage1",
                "a,,b", "", {"stage1": 0.1}, {"s": -1}, {"s": True}, {}, "stage1=0.01, stage2=0.1", "x=y", "s=-1",
                ",s=1,", "s"]


@pytest.mark.parametrize("key", TRAIN_KEYS)
def test_train_values_agree_with_check_value(key):
    _agree(TRAIN_VALUES, lambda v: _netc_accepts(check_value, key, v), lambda v: schema_accepts(spec(train={key: v})))


ATTR_VALUES = [0, 1, 2, 7, -1, 0.5, 3.0, 1e-3, True, False, "same", "valid", "full", "max", "avg", "l2", "nearest",
               "bilinear", "sometimes", "true", "false", "3"]


@pytest.mark.parametrize("section", list(defaults_sections()))
def test_defaults_values_agree_with_validate_attr(section):
    from netc.graph.attributes import validate_attr

    kind = defaults_sections()[section]
    for attr in kind.attrs:
        def netc_ok(value, attr=attr):
            return _netc_accepts(validate_attr, kind, attr, value, None, None, {})

        _agree(ATTR_VALUES, netc_ok, lambda v, attr=attr: schema_accepts(spec(defaults={section: {attr.name: v}})))


def test_block_names_that_are_layer_words_are_refused():
    for name, ok in (("stage", True), ("conv", False), ("maxpool", False), ("conv3", False), ("from", False)):
        assert schema_accepts(spec(blocks={name: "conv3-4"})) is ok, name


def test_freeze_agrees_with_its_reader():
    from netc.frontend.program.freeze import read_freeze

    samples = ["stem", "stem, stage1", "", "a,,b", ["stem"], [], ["stem", ""], [" "], [1], 3, {"stem": True}, None, True]
    _agree(samples, lambda v: _netc_accepts(read_freeze, load_yaml(json.dumps(v), "s.yaml")),
           lambda v: schema_accepts(spec(freeze=v)))
