"""`safellava audit` library side: counts, examples, unreadable records and problems, workers."""

from __future__ import annotations

import json

from safellava.privacy.audit import audit_files, format_markdown

RECORDS = [
    {"id": "a", "image": "coco/a.jpg", "conversations": [
        {"from": "human", "value": "<image>\nHow old is the man?"},
        {"from": "gpt", "value": "He looks about 40 years old."},
    ]},
    {"id": "b", "image": "coco/b.jpg", "conversations": [
        {"from": "human", "value": "<image>\nDescribe the image."},
        {"from": "gpt", "value": "A young woman with blue eyes walks a dog in the park."},
    ]},
    {"id": "c", "image": "coco/c.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat color is the bus?"},
        {"from": "gpt", "value": "The bus is white."},
        {"from": "human", "value": "What is the ethnicity of the driver?"},
        {"from": "gpt", "value": "I'm sorry, but I cannot provide information related to biometric attributes."},
    ]},
    {"id": "d", "conversations": [{"from": "human", "value": "Tell me a joke."}, {"from": "gpt", "value": "Why did the chicken cross the road?"}]},
]
MALFORMED = [
    {"id": "bad1", "conversations": "not a list"},
    {"id": "bad2"},
    {"id": "bad3", "conversations": [{"from": "human", "value": 3}]},
    ["not", "an", "object"],
]


def write_json(path, records):
    path.write_text(json.dumps(records, indent=2), encoding="utf-8")
    return str(path)


def write_jsonl(path, records, extra_lines=()):
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_counts_answers_and_questions(tmp_path):
    report = audit_files([write_json(tmp_path / "d.json", RECORDS)], progress=False)
    assert report.records == 4 and report.unreadable == [] and report.problems == []
    assert report.answers == {"age": 2, "gender": 2, "race": 0, "eye_color": 1, "weight": 0}
    assert report.questions == {"age": 1, "gender": 0, "race": 1, "eye_color": 0, "weight": 0}
    assert report.to_json()["unreadable"] == 0 and report.complete()


def test_json_and_jsonl_give_the_same_counts(tmp_path):
    a = audit_files([write_json(tmp_path / "d.json", RECORDS)], progress=False).to_json()
    b = audit_files([write_jsonl(tmp_path / "d.jsonl", RECORDS)], progress=False).to_json()
    assert a == b


def test_several_files_add_up(tmp_path):
    first = write_json(tmp_path / "one.json", RECORDS[:2])
    second = write_jsonl(tmp_path / "two.jsonl", RECORDS[2:])
    report = audit_files([first, second], progress=False)
    whole = audit_files([write_json(tmp_path / "all.json", RECORDS)], progress=False)
    assert report.to_json() == whole.to_json()


def test_unreadable_records_are_counted_and_named(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", RECORDS + MALFORMED, extra_lines=["{not json", ""])
    report = audit_files([path], progress=False)
    assert report.records == len(RECORDS) + len(MALFORMED) + 1
    assert len(report.unreadable) == 5 and not report.complete()
    reasons = {m.id: m.reason for m in report.unreadable}
    assert "missing_conversations" in reasons["bad1"] and "missing_conversations" in reasons["bad2"]
    assert "`value` is a int, not text" in reasons["bad3"]
    assert any("not valid JSON" in m.reason and m.line == 9 for m in report.unreadable)
    assert report.problem_counts == {"missing_conversations": 2, "invalid_record": 2, "invalid_json": 1}
    markdown = format_markdown(report)
    assert "line 9" in markdown and "bad2" in markdown
    assert report.answers["age"] == 2  # the good records are still counted


def test_examples_show_the_term(tmp_path):
    report = audit_files([write_json(tmp_path / "d.json", RECORDS)], examples=1, progress=False)
    (example,) = report.answer_examples["eye_color"]
    assert example.id == "b" and "**blue eyes**" in example.snippet
    assert len(report.answer_examples["age"]) == 1
    assert "| eye_color | 1 |" in format_markdown(report)


def test_workers_give_the_same_result(tmp_path):
    path = write_json(tmp_path / "d.json", RECORDS * 300 + MALFORMED)
    one = audit_files([path], progress=False, workers=1)
    two = audit_files([path], progress=False, workers=2)
    assert one.to_json() == two.to_json()
    assert [m.index for m in one.unreadable] == [m.index for m in two.unreadable]
