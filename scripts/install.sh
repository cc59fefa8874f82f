#!/usr/bin/env bash
# Create the virtualenv and install ChatDoctor with its training and dev extras.
# On a machine without an NVIDIA GPU, the CPU build of torch is installed first so pip does not pull
# multi-GB CUDA wheels; with a GPU, the normal torch wheel comes in with the project.
set -euo pipefail
venv=${1:-.venv}
py=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
pip() { "$venv/bin/python" -m pip "$@"; }
pip install -q --upgrade pip wheel setuptools
if ! command -v nvidia-smi >/dev/null 2>&1; then
  # The CPU wheel (found locally on our machines, or on PyTorch's CPU index elsewhere).
  pip install -q "torch==2.13.0" 2>/dev/null \
    || pip install -q torch --index-url https://download.pytorch.org/whl/cpu
fi
pip install -q -e ".[train,dev]"
echo "installed into $venv"
