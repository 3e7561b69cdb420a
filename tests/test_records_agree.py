"""One file, one answer: training, `data check`, `audit` and `clean` see the same records and problems."""

from __future__ import annotations

import json

from test_data_support import image_processor, image_record, text_record, tokenizers, write_image

from safellava.data.check import check_records
from safellava.data.dataset import SupervisedDataset
from safellava.privacy.audit import audit_files
from safellava.privacy.clean import clean_file


def _mixed_fault_lines() -> list[bytes]:
    """Good records in every accepted spelling, and one record per fault docs/data.md lists."""
    turns = lambda *pairs: [{"from": role, "value": text} for role, text in pairs]  # noqa: E731
    good = [
        image_record("img", "ok.png", "What colour is it?", "Red."),
        text_record("txt", "Say hello.", "Hello!"),
        {"id": "rc", "conversations": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]},
        {"id": "caps", "conversations": turns(("Human", "Hi"), ("GPT", "Hello."))},
    ]
    faulty = [
        ["not", "an", "object"],
        {"id": "shape", "conversations": [{"from": "human"}]},
        {"id": "badimage", "image": 7, "conversations": turns(("human", "q"), ("gpt", "a"))},
        {"id": "noconv"},
        {"id": "emptyconv", "conversations": []},
        {"id": "role", "conversations": turns(("human", "q"), ("robot", "a"))},
        {"id": "order", "conversations": turns(("human", "q"), ("human", "q2"), ("gpt", "a"))},
        {"id": "empty", "conversations": turns(("human", "q"), ("gpt", "  "))},
        {"id": "mismatch", "image": "ok.png", "conversations": turns(("human", "q"), ("gpt", "a"))},
    ]
    lines = [b"\xef\xbb\xbf" + json.dumps(good[0]).encode()]  # a byte order mark on the first line
    lines += [json.dumps(record).encode() for record in good[1:] + faulty]
    lines += [b"{not json", b'{"id": "latin1", "conversations": "caf\xe9"}', b""]
    return lines


def test_every_tool_sees_the_same_records_and_problems(tmp_path):
    images = tmp_path / "images"
    write_image(images / "ok.png")
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(_mixed_fault_lines()))

    checked = check_records(path, images, cache_dir=tmp_path / "cache", progress=False)
    audited = audit_files([str(path)], progress=False)
    training = SupervisedDataset(path, "qwen_1_5", tokenizers()["qwen_bpe"], image_processor(), images, 4, 512,
                                 cache_dir=tmp_path / "cache", progress=False).report
    cleaned = clean_file(str(path), str(tmp_path / "safe.jsonl"), progress=False)

    assert checked.records_seen == audited.records == training.records_seen == cleaned.records == 15
    assert checked.counts == audited.problem_counts == training.counts == dict(cleaned.problems)
    assert checked.counts == {"invalid_json": 2, "invalid_record": 3, "missing_conversations": 2, "unknown_role": 1,
                              "roles_not_alternating": 1, "empty_assistant_turn": 1, "image_token_mismatch": 1}
    assert checked.records_dropped == audited.records_with_problems == training.records_dropped == 11
    assert [(p.line, p.id, p.kind) for p in checked.problems] == [(p.line, p.id, p.kind) for p in audited.problems]
    # Clean leaves out exactly the records whose turns cannot be read, and cleans all the others.
    assert len(cleaned.dropped) == len(audited.unreadable) == 7
    assert cleaned.records_written == 15 - 7
