"""The synthetic world is the same in every process: ranks, resumed runs and CI must see identical data.

Within one process determinism is easy to get by accident; across processes, iterating a set of strings
follows PYTHONHASHSEED, which Python randomises per process.
"""

from __future__ import annotations

import os
import subprocess
import sys

DIGEST = """
import hashlib, sys, tempfile
from safellava.synth import generate_world, tokenizer_corpus
world = generate_world(tempfile.mkdtemp(), seed=3, n_train_images=40, n_eval_images=4)
digest = hashlib.sha256("\\n".join(tokenizer_corpus(0)).encode())
for path in (world.pretrain, world.finetune, world.prism_implicit_leakage, world.benign):
    digest.update(path.read_bytes())
print(digest.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-c", DIGEST], env=env, capture_output=True, text=True, check=True).stdout


def test_world_and_tokenizer_corpus_do_not_depend_on_the_hash_seed():
    assert _digest("1") == _digest("2")
