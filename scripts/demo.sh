#!/usr/bin/env bash
# The main job: check the zoo, tabulate VGG16 as the lecture notes do, generate a ResNet-50
# module and run it, and draw GoogLeNet and ResNet-50 — everything lands in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
NETC=".venv/bin/netc"
PY=".venv/bin/python"
mkdir -p out

echo "== netc check specs/*.yaml"
for spec in specs/*.yaml; do $NETC check "$spec"; done

echo; echo "== netc table specs/vgg16.yaml --compact   (the lecture notes' VGG16 table)"
$NETC table specs/vgg16.yaml --compact

echo; echo "== netc table specs/resnet50.yaml --batch 32 --dtype float16 --optimizer adam   (totals)"
$NETC table specs/resnet50.yaml --batch 32 --dtype float16 --optimizer adam | sed -n '/^params/,$p'

echo; echo "== netc table -e 'conv3-64-relu-maxpool-FC-10' --input 3x32x32"
$NETC table -e 'conv3-64-relu-maxpool-FC-10' --input 3x32x32

echo; echo "== netc compile specs/resnet50.yaml -o out/resnet50.py, then run it"
$NETC compile specs/resnet50.yaml -o out/resnet50.py
(cd out && "../$PY" -c "import torch, resnet50; m = resnet50.Model(); print('forward:', tuple(m(torch.randn(2, 3, 224, 224)).shape), '| params:', sum(p.numel() for p in m.parameters()))")

echo; echo "== netc render"
$NETC render specs/googlenet.yaml -o out/googlenet.dot
if command -v dot >/dev/null 2>&1; then
    $NETC render specs/googlenet.yaml -o out/googlenet.svg --depth 1
    $NETC render specs/resnet50.yaml -o out/resnet50.png --depth 1
fi
ls -l out/
