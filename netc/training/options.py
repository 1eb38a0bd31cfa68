"""`netc train`'s command line. Imported by netc.cli for every command, so it imports no torch:
`netc check` stays on the analysis path."""

from __future__ import annotations

import argparse

from ..frontend.program.train_config import CHOICES, TRAIN_KEYS, check_value

_HELP = {
    "optimizer": "sgd (with momentum), adam or adamw",
    "lr": "learning rate for the global batch (default 0.1 for sgd, 0.001 for adam/adamw)",
    "momentum": "SGD momentum (default 0.9)",
    "weight_decay": "L2 weight decay (default 5e-4)",
    "schedule": "learning-rate schedule per step: cosine, step (×0.1 at 50%% and 75%%) or constant",
    "epochs": "passes over the training data (default 10)",
    "batch": "global batch size, split evenly over torchrun's processes (default 128)",
    "label_smoothing": "cross-entropy label smoothing (default 0)",
    "amp": "mixed precision on CUDA: off, bf16 or fp16 (default off)",
    "seed": "random seed: the same command with the same seed gives the same metrics on CPU (default 0)",
    "workers": "DataLoader worker processes per training process (default 0)",
    "val_split": "share held out for validation when the data has no val set (default 0.2)",
    "freeze": "scopes not trained, as the table names them: stem,stage1 (finetuning)",
    "lr_mult": "per-scope learning-rate multipliers: stage1=0.01,stage2=0.1",
    "patience": "early stopping: stop after this many epochs without a better val acc (default 0: never)",
    "ema": "keep an exponential moving average of the weights with this decay (0.999), validated and saved "
           "as best.pth (default 0: none)",
    "warmup_epochs": "raise the learning rate linearly from lr/steps to lr over these epochs (default 0)",
    "clip_grad": "clip the total gradient norm (L2) to this value (default 0: not clipped)",
}
TEXT_KEYS = ("freeze", "lr_mult")  # given as text on the command line, not numbers


def _typed(key: str):
    def parse(text: str):
        value: object = text
        if key not in CHOICES and key not in TEXT_KEYS:
            try:
                value = int(text) if text.strip().lstrip("+-").isdigit() else float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"takes a number, got {text!r}") from None
        try:
            return check_value(key, value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None  # argparse names the option

    return parse


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None,
                        help="digits (scikit-learn's 8×8 digits), an ImageFolder directory (train/ and val/, or "
                             "one folder of class folders), or a CIFAR-10 python batches directory")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when there is a GPU, else the CPU")
    parser.add_argument("--runs", default="runs", help="the folder that holds run directories (default runs)")
    parser.add_argument("--name", default=None, help="run directory name (default: the spec's name, numbered if taken)")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR (runs/NAME) from its last checkpoint")
    parser.add_argument("--weights", default=None, metavar="FILE",
                        help="start from a checkpoint (.pth/.pt state_dict or .safetensors), loaded by structure "
                             "as netc port loads it; layers it cannot fill (a new head) keep their initialisation")
    parser.add_argument("--strict-weights", action="store_true", help="fail unless --weights fills every layer")
    parser.add_argument("--skip-bad-images", action="store_true",
                        help="leave out image files Pillow cannot read (counted) instead of stopping with an error")
    parser.add_argument("--log", choices=("csv", "tensorboard"), default="csv",
                        help="csv: metrics.csv (default); tensorboard: TensorBoard event files beside it "
                             "(pip install 'netc[tensorboard]')")
    parser.add_argument("--stop-after", type=_typed("epochs"), default=None, metavar="EPOCHS",
                        help="stop once this many epochs are done in total, keeping the schedule of --epochs "
                             "(continue later with --resume)")
    for key in TRAIN_KEYS:
        flag = "--" + key.replace("_", "-")
        extra = {"choices": CHOICES[key]} if key in CHOICES else {}
        parser.add_argument(flag, dest=f"train_{key}", type=_typed(key), default=None, help=_HELP[key],
                            metavar=None if extra else key.upper(), **extra)


def train_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The `train:` keys given on the command line."""
    return {key: getattr(args, f"train_{key}") for key in TRAIN_KEYS if getattr(args, f"train_{key}") is not None}
