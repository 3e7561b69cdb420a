#!/usr/bin/env bash
# Runs the test suite offline on CPU (≈ 10 minutes on 2 cores). Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -k templates -x`.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$repo_root"
exec python -m pytest -q -p no:cacheprovider "$@"
