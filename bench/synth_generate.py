"""Benchmark: how long `generate_world` takes for the default world (2,000 training + 50 held-out
images, 2,000 stage-1 + 4,000 stage-2 records) on one core, against the 10 s target; how long reusing
it takes; and how long `tokenizer_corpus` takes. Prints one JSON line."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safellava.synth import generate_world, load_manifest, tokenizer_corpus  # noqa: E402

TARGET_SECONDS = 10.0


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = generate_world(folder, seed=0)
        generate_s = time.perf_counter() - start
        start = time.perf_counter()
        reused = generate_world(folder, seed=0)
        reuse_s = time.perf_counter() - start
        counts = load_manifest(folder)["counts"]
        disk_bytes = sum(p.stat().st_size for p in paths.root.rglob("*") if p.is_file())
    start = time.perf_counter()
    corpus = tokenizer_corpus(0)
    corpus_s = time.perf_counter() - start
    images = counts["train_images"] + counts["eval_images"]
    records = counts["pretrain_records"] + counts["finetune_records"]
    print(json.dumps({
        "bench": "synth_generate",
        "measured": "generate_world(seed=0) with default sizes, one process; reuse = second call on the same folder",
        "images": images,
        "records": records,
        "generate_s": round(generate_s, 2),
        "target_s": TARGET_SECONDS,
        "within_target": generate_s < TARGET_SECONDS,
        "ms_per_image_incl_records": round(1000 * generate_s / images, 3),
        "reuse_s": round(reuse_s, 3),
        "reused": reused.reused,
        "world_mib": round(disk_bytes / 2**20, 2),
        "tokenizer_corpus_s": round(corpus_s, 3),
        "tokenizer_corpus_lines": len(corpus),
        "tokenizer_corpus_chars": sum(map(len, corpus)),
    }))


if __name__ == "__main__":
    main()
