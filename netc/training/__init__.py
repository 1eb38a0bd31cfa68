"""`netc train`: train a spec's generated network on real data, on one process or under torchrun.

    options.py      the command line (no torch: netc.cli imports it for every command)
    rundir.py       runs/NAME: naming, config.json, what --resume reads (no torch)
    data.py         digits, CIFAR-10 batches, image folders → datasets at the spec's input
    augment.py      channels, resizing, normalisation; random crop and flip, seeded per sample
    loop.py         one training epoch, one validation pass
    distributed.py  torchrun's environment, the process group, the sums across processes
    checkpoint.py   atomic last.pt / best.pth, random generators' states
    metrics.py      metrics.csv and curves.png
    progress.py     the progress bar and the per-epoch line
    run.py          the run, start to end

The training config itself (`train:` in the spec) is read on the analysis path, in
netc/frontend/program/train_config.py, so that `netc check` reports its errors without torch.
"""
