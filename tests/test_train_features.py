"""`netc train` after issue 25: bad images named before training (or skipped with a count), early
stopping, a moving average of the weights, learning-rate warm-up, gradient clipping, TensorBoard
event files and tqdm's bar. Each feature is a `train:` key and a schema entry. Small networks on
scikit-learn's digits or a few generated PNGs, one thread."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
Image = pytest.importorskip("PIL.Image")

from test_train import TINY as TRAIN_TINY  # noqa: E402 - the training tests' tiny classifier

import netc
from netc.cli import main

TINY = TRAIN_TINY.replace("epochs: 3,", "epochs: 2,")  # two epochs: enough for what these tests see
COLOUR = """\
name: Colour
input: [3, 16, 16]
params: {classes: 2}
network: conv(4, 3, padding=same)-relu-maxpool(2)-fc(classes)
train: {epochs: 1, batch: 4, lr: 0.01}
"""
STEPS = 22  # digits: 1,437 training images after the 20% held out, batch 64


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def train(tmp_path: Path, *args, name: str = "r") -> int:
    return main(["train", *map(str, args), "--runs", str(tmp_path / "runs"), "--name", name])


def metrics(tmp_path: Path) -> list[dict]:
    with open(tmp_path / "runs" / "r" / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def distance(a: dict, b: dict) -> float:
    return float(torch.sqrt(sum(((a[k].double() - b[k].double()) ** 2).sum() for k in a)))


def initial_weights(spec: Path, seed: int = 0) -> dict:
    """The weights a run starts from: the run seeds torch with its seed, then builds the module."""
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in netc.build(str(spec)).state_dict().items()}


# --- image folders with bad files -----------------------------------------------------------------
def folder(tmp_path: Path, per_class: int = 4) -> Path:
    root = tmp_path / "images"
    for label, colour in (("cat", (200, 30, 30)), ("dog", (30, 30, 200))):
        (root / label).mkdir(parents=True)
        for k in range(per_class):
            Image.new("RGB", (16, 16), tuple(c + 5 * k for c in colour)).save(root / label / f"{k}.png")
    return root


def test_a_file_that_is_no_image_is_named_with_its_class_folder_before_training(tmp_path, capsys):
    root = folder(tmp_path)
    (root / "dog" / "broken.png").write_bytes(b"this is not a png" * 10)
    assert train(tmp_path, write(tmp_path, COLOUR), "--data", root) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {root / 'dog' / 'broken.png'} (class folder dog): not an image Pillow reads")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "--skip-bad-images" in err
    assert not (tmp_path / "runs").exists()  # found before the run directory, let alone a step


def test_skip_bad_images_leaves_them_out_and_says_how_many(tmp_path, capsys):
    root = folder(tmp_path)
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (root / "cat" / "empty.jpg").write_bytes(b"")
    assert train(tmp_path, write(tmp_path, COLOUR), "--data", root, "--skip-bad-images") == 0
    out = capsys.readouterr().out
    assert "2 bad images left out" in out
    config = json.loads((tmp_path / "runs" / "r" / "config.json").read_text())
    assert "8 train" not in config["data_description"]  # 8 good images split, the 2 bad ones not among them
    assert sum(int(w) for w in config["data_description"].replace(",", "").split() if w.isdigit()) >= 8


def truncated_png(path: Path) -> None:
    """A PNG whose header reads (size, mode) but whose pixel data is cut short."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(buffer, format="PNG")
    whole = buffer.getvalue()
    path.write_bytes(whole[: len(whole) // 2 + 10])


@pytest.mark.parametrize("workers", [0, 1])
def test_an_image_cut_short_is_one_line_from_the_main_process_even_with_workers(tmp_path, capsys, workers):
    root = folder(tmp_path, per_class=6)
    truncated_png(root / "cat" / "cut.png")
    spec = write(tmp_path, COLOUR)
    code = train(tmp_path, spec, "--data", root, "--workers", workers, "--val-split", "0.5")
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: {root / 'cat' / 'cut.png'} (class folder cat): not an image Pillow reads")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "DataLoader" not in err
    assert train(tmp_path, spec, "--data", root, "--workers", workers, "--val-split", "0.5", "--skip-bad-images",
                 name="s") == 0
    assert "samples of images that could not be read were left out" in capsys.readouterr().out


def test_pillows_decompression_bomb_limit_is_kept_and_named(tmp_path, capsys, monkeypatch):
    root = folder(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 16×16 = 256 pixels: past it, as a bomb is past 178 M
    assert train(tmp_path, write(tmp_path, COLOUR), "--data", root) == 1
    err = capsys.readouterr().err
    assert "(class folder cat)" in err and "decompression-bomb limit of 100 pixels (PIL.Image.MAX_IMAGE_PIXELS)" in err
    assert len(err.strip().splitlines()) == 1


# --- training features ----------------------------------------------------------------------------
def test_patience_stops_when_val_acc_has_not_improved(tmp_path, capsys):
    spec = write(tmp_path, TINY)
    # A rate so small that no prediction changes: epoch 2 cannot beat epoch 1.
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "10", "--lr", "1e-12", "--patience", "1") == 0
    rows = metrics(tmp_path)
    assert [r["epoch"] for r in rows] == [1, 2] and rows[0]["val_acc"] == rows[1]["val_acc"]
    assert "early stop after epoch 2" in capsys.readouterr().out


def test_without_patience_the_same_run_goes_the_whole_way(tmp_path):
    spec = write(tmp_path, TINY)
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "3", "--lr", "1e-12") == 0
    assert [r["epoch"] for r in metrics(tmp_path)] == [1, 2, 3]


def test_ema_is_what_is_validated_and_saved(tmp_path):
    spec = write(tmp_path, TINY)
    # A decay this close to 1 keeps the average at the initial weights while the model itself trains.
    assert train(tmp_path, spec, "--data", "digits", "--ema", "0.999999") == 0
    start = initial_weights(spec)
    best = state(tmp_path / "runs" / "r" / "best.pth")
    last = state(tmp_path / "runs" / "r" / "last.pt")
    assert distance(best, start) < 1e-3 * distance(last["model"], start)
    assert distance(last["model"], start) > 0.5
    assert distance(best, last["ema"]) < 1e-3 * distance(last["model"], start)  # best.pth: the average (of epoch 1)
    # validated on the average, which has not learned: about chance, where the model reaches > 80%
    assert metrics(tmp_path)[-1]["val_acc"] < 0.3 and metrics(tmp_path)[-1]["train_acc"] > 0.5


def test_warm_up_raises_the_rate_linearly_over_its_epochs(tmp_path):
    spec = write(tmp_path, TINY)
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "3", "--warmup-epochs", "2", "--schedule",
                 "constant") == 0
    rates = [r["lr"] for r in metrics(tmp_path)]  # the rate at each epoch's first step
    # step s of W = 2 × 22 warm-up steps runs at lr (s + 1) / W: steps 0, 22 and 44 (after the warm-up)
    assert rates == pytest.approx([0.05 / (2 * STEPS), 0.05 * (STEPS + 1) / (2 * STEPS), 0.05], rel=1e-4)


def test_gradient_clipping_bounds_how_far_sgd_moves(tmp_path):
    spec = write(tmp_path, TINY)
    plain = ["--data", "digits", "--epochs", "1", "--momentum", "0", "--weight-decay", "0", "--schedule", "constant"]
    clip = 1e-3
    assert train(tmp_path, spec, *plain, "--clip-grad", clip) == 0
    moved = distance(state(tmp_path / "runs" / "r" / "last.pt")["model"], initial_weights(spec))
    # plain SGD moves lr × ‖g‖ a step, and clipping caps ‖g‖: at most steps × lr × clip in all
    assert 0 < moved <= STEPS * 0.05 * clip * (1 + 1e-6)
    assert main(["train", str(spec), *plain, "--runs", str(tmp_path / "runs"), "--name", "free"]) == 0
    assert distance(state(tmp_path / "runs" / "free" / "last.pt")["model"], initial_weights(spec)) > 100 * moved


def test_the_new_keys_are_train_keys_checked_at_their_place_and_in_the_schema(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from netc.backends.schema import spec_schema

    good = TINY.replace("lr: 0.05}", "lr: 0.05, patience: 3, ema: 0.999, warmup_epochs: 1.5, clip_grad: 2.0}")
    validator = jsonschema.Draft7Validator(spec_schema())
    assert main(["check", str(write(tmp_path, good))]) == 0
    assert not list(validator.iter_errors(yaml.safe_load(good)))
    for key, value in (("ema", "1.0"), ("patience", "-1"), ("warmup_epochs", "-2"), ("clip_grad", "-0.5"),
                       ("patience", "1.5")):
        bad = TINY.replace("lr: 0.05}", f"lr: 0.05, {key}: {value}}}")
        assert main(["check", str(write(tmp_path, bad, "bad.yaml"))]) == 1
        err = capsys.readouterr().err
        assert "bad.yaml:5:" in err and f"train.{key}" in err
        assert list(validator.iter_errors(yaml.safe_load(bad))), key
    assert train(tmp_path, write(tmp_path, good), "--data", "digits", "--epochs", "1") == 0
    saved = json.loads((tmp_path / "runs" / "r" / "config.json").read_text())["train"]
    assert (saved["patience"], saved["ema"], saved["warmup_epochs"], saved["clip_grad"]) == (3, 0.999, 1.5, 2.0)


# --- records and the bar --------------------------------------------------------------------------
def test_tensorboard_event_files_hold_the_metrics_csv_values(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = write(tmp_path, TINY)
    assert train(tmp_path, spec, "--data", "digits", "--log", "tensorboard") == 0
    events = EventAccumulator(str(tmp_path / "runs" / "r"))
    events.Reload()
    rows = metrics(tmp_path)
    for column, tag in (("train_loss", "train/loss"), ("val_acc", "val/acc"), ("lr", "lr")):
        read = events.Scalars(tag)
        assert [e.step for e in read] == [1, 2]
        assert [e.value for e in read] == pytest.approx([r[column] for r in rows], rel=1e-5)


def test_piped_output_has_one_line_per_epoch_and_a_terminal_gets_tqdms_bar(tmp_path, capsys):
    pytest.importorskip("tqdm")
    from netc.training.progress import EpochBar

    assert train(tmp_path, write(tmp_path, TINY), "--data", "digits") == 0
    out = capsys.readouterr().out
    assert "\r" not in out and [line.split(":")[0] for line in out.splitlines() if line.startswith("epoch")] == \
        ["epoch 1/2", "epoch 2/2"]
    screen = io.StringIO()
    bar = EpochBar(1, 2, 10, enabled=True, stream=screen)
    for k in range(1, 11):
        bar.update(k, 64 * k, 0.5, 0.75)
    bar.close()
    drawn = screen.getvalue()
    assert "epoch 1/2" in drawn and "loss 0.5000 acc 75.00%" in drawn and "\r" in drawn
    assert EpochBar(1, 2, 10, enabled=False, stream=screen)._bar is None


def test_a_resumed_run_continues_its_moving_average(tmp_path):
    spec = write(tmp_path, TINY)
    args = ["--data", "digits", "--epochs", "3", "--ema", "0.9", "--warmup-epochs", "1", "--clip-grad", "5"]
    assert train(tmp_path, spec, *args, name="whole") == 0
    assert train(tmp_path, spec, *args, "--stop-after", "1", name="part") == 0
    assert main(["train", "--resume", str(tmp_path / "runs" / "part")]) == 0
    whole, part = (state(tmp_path / "runs" / n / "last.pt") for n in ("whole", "part"))
    assert part["ema"] is not None and distance(part["ema"], whole["ema"]) <= 1e-5
    assert distance(part["model"], whole["model"]) <= 1e-5
