#!/usr/bin/env bash
# Reproduce the Safe-LLaVA finding offline (docs/reproduce.md): the synthetic world, `safellava audit` and
# `safellava clean`, one recipe trained on the raw data (baseline) and on the cleaned data (safe), both
# evaluated with `safellava prism run` and compared. Ends by printing one JSON line
# {"baseline": <summary.json>, "safe": <summary.json>, "seconds": <wall time>}.
#   bash scripts/reproduce.sh                 # full run into runs/reproduce/ (about 20 minutes on 2 CPU cores)
#   bash scripts/reproduce.sh --fast --out /tmp/repro   # tiny model, a few steps: checks the plumbing
# Outputs go under the current folder unless --out says otherwise. The orchestration lives in
# safellava/reproduce/; `--help` lists the options.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec python -m safellava.reproduce "$@"
