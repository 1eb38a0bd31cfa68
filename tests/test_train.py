"""`netc train` (issue 13): data, config, progress records, checkpoints and resume, torchrun with
gloo, and weights that load without netc. Small networks on scikit-learn's digits, a few epochs
each; runs that must not share a process's state (a kill, torchrun) run as subprocesses with one
thread each, so their floats do not depend on the machine's core count."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from netc.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = """\
name: Tiny
input: [1, 8, 8]
params: {classes: 10}
network: conv(8, 3, padding=same)-relu-maxpool(2)-fc(32)-relu-fc(classes)
train: {epochs: 3, batch: 64, lr: 0.05}
"""
TIMING = ("images_per_s", "seconds")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared: two spinning threads per step cost more than they give
    yield
    torch.set_num_threads(before)


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def train(tmp_path, *args: str) -> int:
    return main(["train", *map(str, args), "--runs", str(tmp_path / "runs")])


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def weights(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=False)
    return state.get("model", state)


def same_weights(a: dict, b: dict, atol: float = 0.0) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], rtol=0, atol=atol) for k in a)


def test_digits_training_learns_and_writes_its_record(spec, tmp_path, capsys):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "6", "--optimizer", "adam", "--lr", "0.01",
                 "--name", "run") == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "run"
    rows = metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[-1]["val_acc"] >= 0.9, rows[-1]  # chance is 0.1
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    config = json.loads((run / "config.json").read_text())
    # the command line overrode the spec's train: (epochs 3, sgd, lr 0.05); the spec's batch stands
    assert config["train"]["epochs"] == 6 and config["train"]["optimizer"] == "adam"
    assert config["train"]["lr"] == 0.01 and config["train"]["batch"] == 64
    assert '"optimizer": "adam"' in out  # the effective config is printed
    png = (run / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert out.count("epoch ") >= 6 and "\r" not in out  # one line per epoch, no bar: not a terminal
    assert (run / "best.pth").is_file() and (run / "last.pt").is_file() and (run / "model.py").is_file()


def test_the_same_seed_gives_the_same_metrics_and_another_seed_does_not(spec, tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert train(tmp_path, spec, "--data", "digits", "--epochs", "2", "--seed", seed, "--name", name) == 0
    runs = tmp_path / "runs"
    assert metrics(runs / "a") == metrics(runs / "b")
    assert same_weights(weights(runs / "a" / "last.pt"), weights(runs / "b" / "last.pt"))
    assert metrics(runs / "a") != metrics(runs / "c")


def test_stop_and_resume_reaches_the_uninterrupted_weights(spec, tmp_path):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "4", "--name", "whole") == 0
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "4", "--name", "part", "--stop-after", "2") == 0
    runs = tmp_path / "runs"
    assert len(metrics(runs / "part")) == 2
    # stopped at the half: its weights are not yet the whole run's
    assert not same_weights(weights(runs / "part" / "last.pt"), weights(runs / "whole" / "last.pt"), atol=1e-6)
    assert main(["train", "--resume", str(runs / "part")]) == 0
    assert metrics(runs / "part") == metrics(runs / "whole")
    assert same_weights(weights(runs / "part" / "last.pt"), weights(runs / "whole" / "last.pt"), atol=1e-6)


def _netc(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netc", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def test_a_run_killed_mid_way_resumes_to_the_same_weights(spec, tmp_path, capsys):
    runs = tmp_path / "runs"
    common = ["train", str(spec), "--data", "digits", "--epochs", "5", "--runs", str(runs)]
    killed = _netc(*common, "--name", "killed")
    csv_path = runs / "killed" / "metrics.csv"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and killed.poll() is None:
        if csv_path.is_file() and len(csv_path.read_text().splitlines()) >= 2:  # header and epoch 1
            break
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert main(common + ["--name", "whole"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(runs / "killed")]) == 0
    out = capsys.readouterr().out
    after = int(out.split("resuming after epoch ")[1].split()[0])
    assert 1 <= after < 5  # it continued, it did not start again nor find the run finished
    assert metrics(runs / "killed") == metrics(runs / "whole")
    assert same_weights(weights(runs / "killed" / "last.pt"), weights(runs / "whole" / "last.pt"), atol=1e-6)


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(spec, tmp_path):
    runs = tmp_path / "runs"
    common = ["--data", "digits", "--epochs", "2", "--batch", "64", "--runs", str(runs)]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "netc", "train", str(spec), *common, "--name", "two"],
                         env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert two.returncode == 0, two.stdout + two.stderr
    assert main(["train", str(spec), *common, "--name", "one"]) == 0
    assert "2 processes on cpu, batch 64 (32 per process)" in two.stdout
    assert two.stdout.count("epoch 1/2:") == 1  # rank 0 alone reports
    config = json.loads((runs / "two" / "config.json").read_text())
    assert config["world_size"] == 2
    a, b = metrics(runs / "one"), metrics(runs / "two")
    for row_a, row_b in zip(a, b, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-5, abs=1e-6), key
    assert same_weights(weights(runs / "one" / "last.pt"), weights(runs / "two" / "last.pt"), atol=1e-5)
    # the test can fail: a single process with half the batch lands elsewhere
    assert main(["train", str(spec), *common[:-4], "--batch", "32", "--runs", str(runs), "--name", "half"]) == 0
    assert not same_weights(weights(runs / "one" / "last.pt"), weights(runs / "half" / "last.pt"), atol=1e-3)


def test_best_weights_load_into_the_generated_file_without_netc(spec, tmp_path):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "2", "--name", "r") == 0
    run = tmp_path / "runs" / "r"
    probe = tmp_path / "probe.pt"
    torch.manual_seed(1)
    torch.save(torch.randn(5, 1, 8, 8), probe)
    code = f"""
import sys
sys.modules["netc"] = None  # any `import netc` now fails
sys.path.insert(0, {str(run)!r})
import torch, model
net = model.Model()
net.load_state_dict(torch.load({str(run / "best.pth")!r}, weights_only=True))
net.eval()
torch.save(net(torch.load({str(probe)!r})), {str(tmp_path / "out.pt")!r})
"""
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    import netc

    built = netc.build(str(spec))
    fresh = built(torch.load(probe)).detach()
    built.load_state_dict(torch.load(run / "best.pth", weights_only=True))
    built.eval()
    expected = built(torch.load(probe)).detach()
    got = torch.load(tmp_path / "out.pt")
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, fresh, atol=1e-3)  # trained weights, not a fresh network's


def test_a_class_count_that_does_not_match_the_data_is_an_error_before_training(tmp_path, capsys):
    path = tmp_path / "seven.yaml"
    path.write_text(TINY.replace("classes: 10", "classes: 7"))
    assert train(tmp_path, path, "--data", "digits") == 2
    err = capsys.readouterr().err
    assert "the data has 10 classes but the network outputs 7" in err and "-D classes=10" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()
    assert train(tmp_path, path, "--data", "digits", "-D", "classes=10", "--epochs", "1") == 0


@pytest.mark.parametrize("network, message", [
    ("conv(8, 3, padding=same)", "the network's output is 8×8×8"),
    ("fc(10)", "the network reads a vector of 60 values, but the data's images are 1×8×8 = 64 values"),
])
def test_a_network_that_is_no_classifier_or_cannot_take_the_data(tmp_path, capsys, network, message):
    path = tmp_path / "net.yaml"
    path.write_text(f"name: N\ninput: {[1, 8, 8] if 'conv' in network else [60]}\nnetwork: {network}\n")
    assert train(tmp_path, path, "--data", "digits") == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_train_key_errors_are_reported_at_their_place_without_torch(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("lr: 0.05", "lr: -1, optimiser: adam"))
    code = ("import sys, netc.cli; rc = netc.cli.main(['check', sys.argv[1]]); "
            "print('torch' in sys.modules); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, str(path)], env=ENV, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "bad.yaml:5:35: error: train.lr must be above 0" in done.stderr, done.stderr
    assert "unknown key 'optimiser' in train" in done.stderr and "optimizer" in done.stderr
    assert done.stdout.strip() == "False"  # checking a spec with train: still never imports torch
    (tmp_path / "good.yaml").write_text(TINY)
    ok = subprocess.run([sys.executable, "-c", code, str(tmp_path / "good.yaml")], env=ENV, capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == ["Tiny: ok — 6 layers, 4,538 params, 0.00 GFLOPs, output 10", "False"]


def test_command_line_values_are_checked(spec, tmp_path, capsys):
    for args, message in ((["--lr", "-0.1"], "argument --lr: must be above 0, got -0.1"),
                          (["--schedule", "linear"], "--schedule: must be one of cosine, step, constant, got 'linear'"),
                          (["--epochs", "2.5"], "--epochs: must be a whole number, got 2.5"),
                          (["--batch", "big"], "--batch: takes a number, got 'big'")):
        with pytest.raises(SystemExit) as exit_:
            train(tmp_path, spec, "--data", "digits", *args)
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert train(tmp_path, spec, "--data", str(tmp_path / "nothing")) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "no config.json" in capsys.readouterr().err


def _png(path: Path, colour: tuple[int, int, int]) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), colour).save(path)


@pytest.mark.parametrize("layout", ["train_val", "one_folder"])
def test_an_image_folder_trains(tmp_path, capsys, layout):
    colours = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}
    for name, colour in colours.items():
        for k in range(12):
            shade = tuple(min(255, c + 3 * k) for c in colour)
            split = ("train" if k < 9 else "val") if layout == "train_val" else ""
            _png(tmp_path / "images" / split / name / f"{k}.png", shade)
    path = tmp_path / "rgb.yaml"
    path.write_text("name: Rgb\ninput: [3, 8, 8]\nnetwork: conv(4, 3)-relu-globalavgpool-fc(3)\n")
    assert train(tmp_path, path, "--data", tmp_path / "images", "--epochs", "8", "--batch", "9", "--lr", "0.1",
                 "--name", "f") == 0
    out = capsys.readouterr().out
    assert ("train/ and val/" if layout == "train_val" else "20% of each class held out") in out
    rows = metrics(tmp_path / "runs" / "f")
    assert rows[-1]["val_acc"] == 1.0  # three flat colours: separable
    config = json.loads((tmp_path / "runs" / "f" / "config.json").read_text())
    assert config["classes"] == ["blue", "green", "red"]


def test_cifar10_batches_load_and_a_foreign_pickle_is_refused(tmp_path):
    import numpy as np

    from netc.errors import UsageError
    from netc.training.data import load_data

    rng = np.random.default_rng(0)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8), b"labels": list(range(10)) * 2}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    data = load_data(str(tmp_path), (3, 16, 16), 0.2, "s.yaml")
    assert len(data.train) == 100 and len(data.val) == 20 and len(data.classes) == 10
    image, label = data.train[3]
    assert image.shape == (3, 16, 16) and label == 3  # resized to the spec's input
    (tmp_path / "test_batch").write_bytes(pickle.dumps(os.system))  # a pickle that would call a function
    with pytest.raises(UsageError, match="not a CIFAR-10 python batch"):
        load_data(str(tmp_path), (3, 32, 32), 0.2, "s.yaml")


def test_digits_are_resized_and_repeated_to_a_colour_input():
    from netc.training.data import load_data

    data = load_data("digits", (3, 32, 32), 0.2, "s.yaml")
    image, _ = data.train[0]
    assert image.shape == (3, 32, 32)
    assert torch.equal(image[0], image[2]) and image.std() > 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_cuda_training_with_bf16_and_channels_last(spec, tmp_path):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "2", "--device", "cuda", "--amp", "bf16",
                 "--name", "gpu") == 0
    config = json.loads((tmp_path / "runs" / "gpu" / "config.json").read_text())
    assert config["device"] == "cuda" and config["amp"] == "bf16" and config["channels_last"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is there")
def test_asking_for_cuda_without_a_gpu_is_a_usage_error(spec, tmp_path, capsys):
    assert train(tmp_path, spec, "--data", "digits", "--device", "cuda") == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err


def test_a_network_ending_in_softmax_trains_on_the_log_of_its_probabilities(tmp_path):
    path = tmp_path / "soft.yaml"
    path.write_text(TINY.replace("fc(classes)\n", "fc(classes)-softmax\n"))
    assert train(tmp_path, path, "--data", "digits", "--epochs", "4", "--optimizer", "adam", "--lr", "0.01",
                 "--name", "s") == 0
    last = metrics(tmp_path / "runs" / "s")[-1]
    # cross-entropy taken of probabilities in [0, 1] as if they were logits is at least log(9 + e) - 1 ≈ 1.46
    assert last["val_loss"] < 0.6 and last["val_acc"] > 0.85, last


def test_finetuning_loads_weights_freezes_scopes_and_multiplies_rates(spec, tmp_path, capsys):
    """--weights loads a checkpoint by structure (a run's best.pth here), --freeze leaves the named
    layers exactly as loaded while the rest trains, and --lr-mult gives a scope its own rate."""
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "1", "--name", "first") == 0
    start = weights(tmp_path / "runs" / "first" / "best.pth")
    capsys.readouterr()
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "1", "--name", "tuned", "--weights",
                 tmp_path / "runs" / "first" / "best.pth", "--freeze", "conv1", "--lr-mult", "fc1=0.5") == 0
    out = capsys.readouterr().out
    assert "matched" in out.lower() and "frozen: 80 parameters (conv1)" in out  # 8×1×3×3 + 8
    tuned = weights(tmp_path / "runs" / "tuned" / "last.pt")
    assert torch.equal(tuned["conv1.weight"], start["conv1.weight"]) and torch.equal(tuned["conv1.bias"], start["conv1.bias"])
    assert not torch.equal(tuned["fc1.weight"], start["fc1.weight"])
    config = json.loads((tmp_path / "runs" / "tuned" / "config.json").read_text())
    assert config["train"]["freeze"] == ["conv1"] and config["train"]["lr_mult"] == {"fc1": 0.5}
    state = torch.load(tmp_path / "runs" / "tuned" / "last.pt", weights_only=False)
    rates = {g["name"]: g["initial_lr"] for g in state["optimizer"]["param_groups"]}
    assert rates == {"fc1": 0.025, "rest": 0.05}  # the spec's lr 0.05; conv1's frozen tensors are in no group


def test_freezing_an_unknown_scope_is_an_error_listing_the_scopes(spec, tmp_path, capsys):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "1", "--freeze", "stage9") == 1
    err = capsys.readouterr().err
    assert "unknown scope 'stage9'" in err and "conv1" in err


class _Payload:
    """A pickle that, loaded with weights_only=False, would create `path`: what a hostile last.pt carries."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_resume_loads_tensors_and_plain_values_only_and_refuses_a_pickled_payload(spec, tmp_path, capsys):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "2", "--name", "run", "--stop-after", "1") == 0
    run = tmp_path / "runs" / "run"
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)  # netc's own file loads so
    assert state["epoch"] == 1 and isinstance(state["history"][0]["val_acc"], float)
    marker = tmp_path / "pwned"
    state["rng"] = {"torch": state["rng"]["torch"], "python": _Payload(str(marker))}
    torch.save(state, run / "last.pt")
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()  # nothing of the pickle ran
    assert len(err.strip().splitlines()) == 1 and "last.pt" in err and "Traceback" not in err
    # the same bytes through a plain torch.load(weights_only=False) would have run it: the test could fail
    torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert marker.is_dir()


def test_resume_of_a_checkpoint_edited_by_hand_is_one_line(spec, tmp_path, capsys):
    assert train(tmp_path, spec, "--data", "digits", "--epochs", "2", "--name", "run", "--stop-after", "1") == 0
    run = tmp_path / "runs" / "run"
    state = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    for broken in ({**state, "rng": {"torch": state["rng"]["torch"], "python": {"words": 3}}},
                   {k: v for k, v in state.items() if k != "history"}, [1, 2, 3]):
        torch.save(broken, run / "last.pt")
        capsys.readouterr()
        assert main(["train", "--resume", str(run)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    (run / "last.pt").write_bytes(b"PK\x03\x04" + b"\0" * 40)  # a truncated zip
    assert main(["train", "--resume", str(run)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_corrupt_image_read_by_a_worker_is_one_line_without_the_workers_traceback(tmp_path):
    """Issue 24: with --workers, a failure in a DataLoader worker (here a file that is no image)
    reaches the main process with the worker's traceback in its message; the user sees one line,
    naming the file, and no traceback, from a process of its own as a user runs it."""
    for name, colour in {"red": (220, 20, 20), "blue": (20, 20, 220)}.items():
        for k in range(6):
            _png(tmp_path / "images" / name / f"{k}.png", colour)
    # Its header reads (so the scan before training passes it) but its pixels are cut short: the
    # failure comes from a worker, when it loads.
    whole = (tmp_path / "images" / "red" / "3.png").read_bytes()
    (tmp_path / "images" / "red" / "3.png").write_bytes(whole[: len(whole) // 2])
    path = tmp_path / "rgb.yaml"
    path.write_text("name: Rgb\ninput: [3, 8, 8]\nnetwork: conv(4, 3)-relu-globalavgpool-fc(2)\n")
    done = subprocess.run([sys.executable, "-m", "netc", "train", str(path), "--data", str(tmp_path / "images"),
                           "--epochs", "1", "--batch", "4", "--workers", "2", "--runs", str(tmp_path / "runs")],
                          env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (1, 2), done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr and "worker" not in done.stderr, done.stderr
    assert "3.png" in lines[0] and "error: " in lines[0]


def test_a_librarys_error_from_a_worker_is_one_line_and_exit_1(monkeypatch, capsys):
    """Not netc's own error: a library's, raised in a worker, re-raised by torch with the worker's
    traceback in its message (a real torch ExceptionWrapper makes it, as the DataLoader does)."""
    from torch.utils.data._utils import ExceptionWrapper

    import netc.cli

    def worker():
        try:
            raise OSError("cannot identify image file 'cats/3.png'")
        except OSError:
            ExceptionWrapper(where="in DataLoader worker process 0").reraise()

    monkeypatch.setattr(netc.cli, "_run", lambda args: worker())
    assert main(["check", str(ROOT / "specs" / "lenet5.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "cats/3.png" in err
