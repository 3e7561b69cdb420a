# Sourced by the other scripts: creates or reuses the project's virtual environment (.venv, or
# $SAFELLAVA_VENV) and installs the project into it when pyproject.toml changed since the last install.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SAFELLAVA_VENV:-$repo_root/.venv}
if [ ! -x "$venv/bin/python" ]; then
  echo "[safellava] creating virtual environment in $venv"
  python3 -m venv "$venv"
fi
stamp="$venv/.safellava-installed"
want=$(sha256sum "$repo_root/pyproject.toml" | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[safellava] installing the project and its pinned dependencies (first run: about a minute)"
  "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  # The tested torch first: on a CPU machine this is the CPU build; on a GPU node pip takes the CUDA one.
  if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    "$venv/bin/python" -m pip install -q "torch==${SAFELLAVA_TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "is ignored" || true
  fi
  "$venv/bin/python" -m pip install -q -e "$repo_root[dev]" 2>&1 | grep -v "is ignored" || true
  # lmms-eval without its own dependencies: the `lmms-eval` extra (part of dev) holds the ones it needs.
  lmms_eval=$(sed -n 's/^lmms-eval = "\(.*\)"$/\1/p' "$repo_root/pyproject.toml")  # [tool.safellava]
  "$venv/bin/python" -m pip install -q --no-deps "$lmms_eval" 2>&1 | grep -v "is ignored" || true
  "$venv/bin/python" -c "import safellava, torch, transformers" 
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
# Everything runs offline: no model hub, no tracker servers.
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} HF_DATASETS_OFFLINE=${HF_DATASETS_OFFLINE:-1}
export WANDB_MODE=${WANDB_MODE:-offline} TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM:-false}
