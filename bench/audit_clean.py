"""Throughput of `safellava audit` and `safellava clean` on a synthetic 665K-record LLaVA mix.

The file imitates llava_v1_5_mix665k.json: the same record kinds in about the same shares (LLaVA-Instruct
conversations / detailed descriptions / reasoning, ShareGPT text-only chats, VQAv2/GQA/OKVQA/A-OKVQA short
answers, OCR-VQA, TextCaps, RefCOCO boxes, Visual Genome), mixed lengths (≈1 KB a record on average), people
and biometric words at realistic rates, a few direct biometric questions, and a handful of malformed
records. It is generated with the standard library (seeded) and cached under /tmp.

Prints ONE JSON line: records, file size, and for audit and clean with 2 worker processes the wall-clock
seconds and records/s (targets on 2 cores: audit ≤ 60 s, clean ≤ 120 s), the CPU seconds they used (main
process + workers: on a shared machine the wall clock depends on the load, the CPU time does not; the
1-minute load average before each run is printed too), plus the counts found.

Run: .venv/bin/python bench/audit_clean.py [--records 665000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safellava.privacy.audit import audit_files  # noqa: E402
from safellava.privacy.clean import clean_file  # noqa: E402

PEOPLE = ["man", "woman", "young man", "elderly woman", "boy", "girl", "person", "child", "little girl",
          "older man", "young woman", "group of people", "couple", "baseball player", "chef", "skier",
          "surfer", "tennis player", "police officer", "family", "two men", "woman and a child"]
OBJECTS = ["red car", "white bus", "black dog", "wooden table", "blue umbrella", "pizza", "laptop",
           "traffic light", "green bench", "kite", "surfboard", "teddy bear", "cake", "bicycle", "train",
           "giraffe", "clock tower", "fire hydrant", "stop sign", "bowl of fruit", "old car", "heavy truck"]
PLACES = ["in a park", "on a busy street", "in a kitchen", "at the beach", "in a living room",
          "on a snowy slope", "next to a building", "in a field", "at an airport", "on a tennis court"]
ACTIONS = ["is holding", "is looking at", "is standing next to", "is riding", "is carrying", "is sitting near"]
# (sentence, weight): scene details are common, person details less so, biometric ones rare — roughly
# the proportions of LLaVA-Instruct descriptions (race and eye colour are rare in the real mix).
DETAILS = [
    ("The scene is bright and the sky is clear.", 10), ("Several cars are parked along the road.", 10),
    ("There is a large window in the background.", 10), ("The table is covered with plates and cups.", 10),
    ("Trees line the path and the grass is green.", 10), ("A few birds fly over the water.", 10),
    ("The lighting suggests late afternoon.", 10), ("Signs and shops can be seen further away.", 10),
    ("He is wearing a blue shirt and jeans.", 6), ("She has long brown hair tied in a ponytail.", 4),
    ("They seem to be enjoying the sunny weather.", 5), ("He appears to be in his thirties.", 1),
    ("The man has a beard and looks muscular.", 1), ("Her blue eyes are focused on the ball.", 0.3),
    ("The vendor appears to be of Asian descent.", 0.05),
]
DETAIL_TEXTS = [text for text, _ in DETAILS]
DETAIL_WEIGHTS = [weight for _, weight in DETAILS]
SHORT_Q = ["What color is the {o}?", "How many people are in the picture?", "Is it raining?",
           "What is the {p} holding?", "Where is the {o}?", "What sport is being played?",
           "Is there a {o} in the image?", "What is on the table?"]
SHORT_A = ["Red", "2", "No", "Yes", "Umbrella", "Tennis", "On the left", "Pizza", "Blue", "White"]
BIOMETRIC_Q = ["How old is the {p}?", "What is the gender of the person?", "What color are her eyes?",
               "What is the ethnicity of the man?", "Is the person overweight?"]
WORDS = ("the of and to in is that for it as with was on be by this are from at or an which but not have "
         "code data value function return list string file error system user model time first number").split()

SUFFIX = "\nAnswer the question using a single word or phrase."
GENERATOR_VERSION = 3  # part of the cache file name: bump it when the generator changes


def _description(rng: random.Random, sentences: int) -> str:
    person, obj, place = rng.choice(PEOPLE), rng.choice(OBJECTS), rng.choice(PLACES)
    article = "An" if person[0] in "aeiou" else "A"
    if rng.random() < 0.45:
        first = f"The image shows a {obj} {place}."
    else:
        first = f"{article} {person} {rng.choice(ACTIONS)} a {obj} {place}."
    return " ".join([first] + rng.choices(DETAIL_TEXTS, DETAIL_WEIGHTS, k=sentences))


def _record(rng: random.Random, index: int) -> dict | str:
    kind = rng.random()
    rid = f"{index:012d}"
    image = {"image": f"coco/train2017/{rid}.jpg"}
    if kind < 0.00002:
        return '{"id": "' + rid + '", "conversations": "not a list"}'
    if kind < 0.09:  # LLaVA-Instruct conversation
        turns = []
        for _ in range(rng.randint(1, 4)):
            q = rng.choice(SHORT_Q + (BIOMETRIC_Q if rng.random() < 0.02 else [])).format(o=rng.choice(OBJECTS), p="man")
            turns += [{"from": "human", "value": q}, {"from": "gpt", "value": _description(rng, rng.randint(1, 3))}]
        turns[0]["value"] = "<image>\n" + turns[0]["value"]
        return {"id": rid, **image, "conversations": turns}
    if kind < 0.125:  # detailed description
        turns = [{"from": "human", "value": "<image>\nDescribe the following image in detail."},
                 {"from": "gpt", "value": _description(rng, rng.randint(5, 10))}]
        return {"id": rid, **image, "conversations": turns}
    if kind < 0.24:  # complex reasoning
        turns = [{"from": "human", "value": "<image>\nWhat might be the reason for this scene?"},
                 {"from": "gpt", "value": _description(rng, rng.randint(3, 7))}]
        return {"id": rid, **image, "conversations": turns}
    if kind < 0.30:  # ShareGPT, text only, long
        turns = []
        for _ in range(rng.randint(1, 3)):
            turns += [{"from": "human", "value": " ".join(rng.choices(WORDS, k=rng.randint(20, 80)))},
                      {"from": "gpt", "value": " ".join(rng.choices(WORDS, k=rng.randint(150, 500)))}]
        return {"id": f"sharegpt_{rid}", "conversations": turns}
    if kind < 0.72:  # VQAv2 / GQA / OKVQA / A-OKVQA / VG / OCR-VQA: many short turns
        turns = []
        for _ in range(rng.randint(3, 10)):
            q = rng.choice(SHORT_Q).format(o=rng.choice(OBJECTS), p=rng.choice(PEOPLE))
            turns += [{"from": "human", "value": q + SUFFIX}, {"from": "gpt", "value": rng.choice(SHORT_A)}]
        turns[0]["value"] = "<image>\n" + turns[0]["value"]
        return {"id": rid, **image, "conversations": turns}
    if kind < 0.80:  # TextCaps
        turns = [{"from": "human", "value": "<image>\nProvide a one-sentence caption for the provided image."},
                 {"from": "gpt", "value": _description(rng, 0)}]
        return {"id": rid, **image, "conversations": turns}
    turns = []  # RefCOCO: region descriptions and boxes
    for _ in range(rng.randint(2, 6)):
        box = [round(rng.random(), 2) for _ in range(4)]
        turns += [{"from": "human", "value": f"Please provide the bounding box coordinate of the region this sentence describes: {rng.choice(PEOPLE)} on the left"},
                  {"from": "gpt", "value": json.dumps(box)}]
    turns[0]["value"] = "<image>\n" + turns[0]["value"]
    return {"id": rid, **image, "conversations": turns}


def generate(path: Path, records: int, seed: int = 0) -> None:
    """Write the synthetic mix as a JSON list (one record per line inside the brackets)."""
    rng = random.Random(seed)
    tmp = path.with_suffix(".partial")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write("[\n")
        for index in range(records):
            record = _record(rng, index)
            handle.write((",\n" if index else "") + (record if isinstance(record, str) else json.dumps(record)))
        handle.write("\n]\n")
    os.replace(tmp, path)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (the workers)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=665_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", default="/tmp/safellava_bench")
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    data = cache / f"mix_v{GENERATOR_VERSION}_{args.records}.json"
    if not data.exists():
        started = time.perf_counter()
        generate(data, args.records)
        print(f"generated {data} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    size_mb = data.stat().st_size / 1e6

    load_audit = os.getloadavg()[0]
    started, cpu = time.perf_counter(), _cpu_seconds()
    report = audit_files([str(data)], workers=args.workers, progress=False)
    audit_s, audit_cpu = time.perf_counter() - started, _cpu_seconds() - cpu

    out = cache / f"mix_v{GENERATOR_VERSION}_{args.records}_clean.json"
    load_clean = os.getloadavg()[0]
    started, cpu = time.perf_counter(), _cpu_seconds()
    stats = clean_file(str(data), str(out), changes_path=str(cache / "changes.jsonl"), workers=args.workers, progress=False)
    clean_s, clean_cpu = time.perf_counter() - started, _cpu_seconds() - cpu

    print(json.dumps({
        "measured": f"audit and clean of a synthetic LLaVA mix with {args.workers} worker processes",
        "records": report.records,
        "file_mb": round(size_mb, 1),
        "workers": args.workers,
        "audit_seconds": round(audit_s, 1),
        "audit_records_per_s": round(report.records / audit_s),
        "audit_cpu_seconds": round(audit_cpu, 1),
        "audit_load_average_before": round(load_audit, 2),
        "audit_target_seconds": 60,
        "clean_seconds": round(clean_s, 1),
        "clean_records_per_s": round(stats.records / clean_s),
        "clean_cpu_seconds": round(clean_cpu, 1),
        "clean_load_average_before": round(load_clean, 2),
        "clean_target_seconds": 120,
        "answers_mentioning": report.answers,
        "questions_asking": report.questions,
        "unreadable": len(report.unreadable),
        "records_with_problems": report.records_with_problems,
        "clean_dropped": len(stats.dropped),
        "records_changed": stats.records_changed,
        "residual_records": stats.to_json()["residual"]["records"],
    }))


if __name__ == "__main__":
    main()
