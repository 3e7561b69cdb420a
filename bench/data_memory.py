"""Memory of the record index vs `json.load`, on a mix665k-sized synthetic LLaVA file.

Writes a JSON array shaped like llava_v1_5_mix665k.json (665K records, ≈1 GB: multi-turn image
conversations, many-question VQA records, long text-only ShareGPT records), then measures in fresh
processes, in the same run:
  - json_load: RSS growth of `json.load(file)` (what LLaVA's LazySupervisedDataset does in every rank);
  - index: RSS growth after `open_records(file)` on the prebuilt offsets index plus 10,000 random record
    reads (what each rank / data-loader worker of SupervisedDataset holds), split into anonymous memory
    (private to the process) and file-backed pages (the memory-mapped index columns, shared between
    processes through the page cache). Records are read with pread, so the data file is never mapped.
Prints one JSON line. Goal: index RSS ≤ 10 % of json.load's.

    .venv/bin/python bench/data_memory.py [--records 665000] [--workdir /tmp/safellava-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORDS = (
    "the a person is standing sitting next to red blue green square circle triangle table image shows "
    "background wall window street car bus white black holding looking at camera wearing shirt hat "
    "what where how many color colour left right top bottom of in on with and near"
).split()


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def _record(rng: random.Random, index: int) -> dict:
    kind = rng.random()
    turns = []
    if kind < 0.06:  # ShareGPT, text-only, long
        for _ in range(rng.randint(1, 4)):
            turns += [("human", _sentence(rng, 10, 60)), ("gpt", " ".join(_sentence(rng, 20, 40) for _ in range(rng.randint(3, 12))))]
        return {"id": f"sharegpt_{index}", "model": "", "conversations": [{"from": f, "value": v} for f, v in turns]}
    if kind < 0.30:  # LLaVA-Instruct conversations / detail / reasoning
        for _ in range(rng.randint(1, 5)):
            turns += [("human", _sentence(rng, 6, 20)), ("gpt", " ".join(_sentence(rng, 10, 25) for _ in range(rng.randint(1, 5))))]
    else:  # VQAv2 / GQA / OCR-VQA / RefCOCO / VG: many short questions merged per image
        for _ in range(rng.randint(2, 14)):
            turns += [("human", _sentence(rng, 4, 12) + " Answer the question using a single word or phrase."), ("gpt", _sentence(rng, 1, 3))]
    turns[0] = ("human", "<image>\n" + turns[0][1])
    image = f"{rng.choice(['coco/train2017', 'gqa/images', 'ocr_vqa/images', 'textvqa/train_images', 'vg/VG_100K'])}/{index:012d}.jpg"
    return {"id": f"{index:012d}", "image": image, "conversations": [{"from": f, "value": v} for f, v in turns]}


def write_mix(path: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[\n")
        for index in range(count):
            handle.write(("" if index == 0 else ",\n") + json.dumps(_record(rng, index), indent=None))
        handle.write("\n]\n")


_CHILD_COMMON = """
import json, sys, time
def status():
    fields = {}
    for line in open('/proc/self/status'):
        key, _, value = line.partition(':')
        if key in ('VmRSS', 'RssAnon', 'RssFile', 'VmHWM'):
            fields[key] = int(value.split()[0]) / 1024
    return fields
"""

_JSON_LOAD = _CHILD_COMMON + """
before = status()
start = time.time()
data = json.load(open(sys.argv[1], encoding='utf-8'))
seconds = time.time() - start
after = status()
print(json.dumps({"records": len(data), "seconds": seconds, "rss_mb": after['VmRSS'] - before['VmRSS'],
                  "anon_mb": after['RssAnon'] - before['RssAnon']}))
"""

_INDEX_OPEN = _CHILD_COMMON + """
import random
import numpy, pyarrow, pyarrow.ipc
from safellava.data.record_index import open_records
before = status()
start = time.time()
source = open_records(sys.argv[1], cache_dir=sys.argv[2])
opened = time.time() - start
rng = random.Random(0)
picks = [rng.randrange(len(source)) for _ in range(10000)]
start = time.time()
for index in picks:
    record = source.record(index)
    source.location(index)
read = time.time() - start
after = status()
print(json.dumps({"records": len(source), "open_seconds": opened, "us_per_record": read / len(picks) * 1e6,
                  "rss_mb": after['VmRSS'] - before['VmRSS'], "anon_mb": after['RssAnon'] - before['RssAnon'],
                  "file_mb": after['RssFile'] - before['RssFile']}))
"""

_INDEX_BUILD = """
import sys, time
from safellava.data.record_index import open_records
start = time.time()
open_records(sys.argv[1], cache_dir=sys.argv[2])
print(time.time() - start)
"""


def _child(code: str, *args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=665_000)
    parser.add_argument("--workdir", default=None, help="where the JSON file and its index go (default: a temp dir)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="safellava-bench-memory-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"mix{args.records}.json"
    if not data.exists():
        write_mix(data, args.records)
    build_seconds = float(_child(_INDEX_BUILD, str(data), str(workdir / "index")))
    loaded = json.loads(_child(_JSON_LOAD, str(data)))
    indexed = json.loads(_child(_INDEX_OPEN, str(data), str(workdir / "index")))
    print(
        json.dumps(
            {
                "bench": "data_memory",
                "what": "RSS growth per process: offsets record index (open + 10k random reads) vs json.load of the same file",
                "records": indexed["records"],
                "file_mb": round(data.stat().st_size / 2**20, 1),
                "json_load_rss_mb": round(loaded["rss_mb"], 1),
                "json_load_seconds": round(loaded["seconds"], 1),
                "index_rss_mb": round(indexed["rss_mb"], 1),
                "index_anon_mb": round(indexed["anon_mb"], 1),
                "index_file_backed_mb": round(indexed["file_mb"], 1),
                "index_rss_fraction_of_json_load": round(indexed["rss_mb"] / loaded["rss_mb"], 4),
                "goal_fraction": 0.10,
                "index_build_seconds_once": round(build_seconds, 1),
                "index_open_seconds": round(indexed["open_seconds"], 3),
                "index_us_per_random_record": round(indexed["us_per_record"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
