#!/usr/bin/env bash
# The main job: check, tabulate, compile and draw the showcase specs into out/.
set -euo pipefail
cd "$(dirname "$0")/.."
NETC=".venv/bin/netc"
mkdir -p out
$NETC check specs/vgg16.yaml
$NETC table specs/vgg16.yaml --compact
$NETC table -e 'conv3-64-relu-maxpool-FC-10' --input 3x32x32
