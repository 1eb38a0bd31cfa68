"""Transfer learning: a published checkpoint loaded into a generated module by structure, and the
training loop's helpers for finetuning (frozen scopes, per-scope learning rates).

    load_weights(module, "resnet50.pth") -> TransferReport       copies in place; print(report)
    transfer(module, "model.safetensors") -> (state_dict, report)  the same, module untouched
    freeze(module, generated.paths, ["stem", "stage1"])
    param_groups(module, generated.paths, 0.01, {"stage1": 0.01, "stage2": 0.1})

Reading. A `.pth`/`.pt` file is read with `torch.load(weights_only=True)` (no pickled code runs):
a state_dict, or a dict holding one under "state_dict", "model", "model_state_dict" or
"state_dict_ema" (what training scripts and timm save). A `.safetensors` file is read with the
safetensors library (it checks the format; a file it refuses is one error line with its reason);
only the tensors that match are read. netc writes safetensors with the library too, recording the
registration order in the metadata (`netc.order`), which the library's name-sorted layout loses.

Matching. A generated module and, say, torchvision's model of the same network name their tensors
differently (`stage1.0.conv1.weight` vs `layer1.0.conv1.weight`, `conv1.weight` vs
`features.0.weight`) but register them in the same order: the layers in forward order, each
layer's tensors in torch's order (weight, bias, running_mean, running_var, num_batches_tracked).
So names are not compared; each tensor becomes a key (role, shape) — the role is the name's last
part for those five, "param" for any other — and the two ordered lists of keys are aligned:

1. Longest matching run first (difflib's Ratcliff–Obershelp, without its junk heuristic): the
   longest run of equal keys is matched, then the same is done to the left and to the right of it.
   A missing or extra layer (a new head, a classifier the spec leaves out) therefore costs only
   its own tensors: the runs before and after it still line up, nothing shifts.
2. Whole layers or nothing: a layer (the tensors of one module) is loaded only when all of its
   tensors matched tensors of a single checkpoint layer, and all of that layer's tensors were used.
   A run that lines up a bias with some other layer's bias of the same size is undone.
3. A linear weight (out, in) may fill a 1×1 conv weight (out, in, 1, 1), and the other way round:
   the same function (torchvision's ConvNeXt applies its 1×1 layers as nn.Linear).
4. num_batches_tracked is a counter, not a weight: one the checkpoint lacks (older files) is left
   as it is and is no mismatch.
5. A per-channel scale keys alike whatever its name and broadcasting shape: netc's layer scale
   (a C×1×1 weight), torchvision's ConvNeXt layer_scale (C×1×1), timm's gamma (C).
6. torch lists a module's own tensors before its submodules'; a block holding a layer scale applies
   it after its layers, where netc registers it. When a checkpoint has such a module, the alignment
   also runs on the order with each module's own tensors after its submodules', and the order that
   matches more is kept.

Shortcut order. netc's module registers a residual block's projection shortcut after its body;
a checkpoint may register it before (torchvision's RegNet: `proj`, then `f`), and there the body's
first 1×1 conv + BN has the projection's shapes, so the alignment above would load most tensors,
the wrong ones into the wrong layers. The module's order is therefore also tried with every
`<block>.shortcut` before the block's body, and the alignment matching more is kept (the module's
own order on a tie); the report notes the blocks.

What is left over is reported: each of the module's tensors not loaded (left at its
initialisation) with the checkpoint tensor in its place and why (the shape differs: 10×512 against
1000×512, a new head), and each checkpoint tensor not used. Strict mode fails on any of them;
`netc port` (port.py) refuses any of them unless asked for a partial port.

Order of a safetensors file. The safetensors library writes tensors sorted by dtype and name, not in
registration order (`layer1` after `fc`, `bias` before `weight`). When a file's order is that
sorted one, the registration order is rebuilt from the names before aligning: the dotted names form
a tree, a module's own tensors come in torch's role order, and at each level the child placed next
is the one whose tensors all match the module's next tensors; where several do, the one after which
its siblings match the most (a one-step lookahead), the first in natural order of names among
equals (`bn1` before `bn2`, `block2` before `block10`); when none matches whole, the one matching
the most. The alignment above then runs on both orders, the file's and the
rebuilt one, and keeps the one that matches more. A file written in registration order (by
another writer) is not sorted by name and is read in its own order; one `netc port` wrote, in the
order its metadata records.

Modules:
    checkpoint.py   reading .pth/.pt and .safetensors files (and writing safetensors)
    order.py        the registration order of a name-sorted safetensors file
    matching.py     the alignment, the report, load_weights and transfer
    finetune.py     freeze and param_groups over the spec's scopes (netc/graph/scopes.py)
    port.py         netc port: the matched state_dict for a spec, once
"""

from __future__ import annotations

from .checkpoint import Checkpoint, Entry, read_checkpoint, save_safetensors
from .finetune import freeze, param_groups, scope_paths
from .matching import Left, Matched, TransferReport, load_weights, match, transfer
from .port import Ported, port

__all__ = ["Checkpoint", "Entry", "Left", "Matched", "Ported", "TransferReport", "freeze", "load_weights", "match",
           "param_groups", "port", "read_checkpoint", "save_safetensors", "scope_paths", "transfer"]
