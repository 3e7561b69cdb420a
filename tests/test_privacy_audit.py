"""`safellava audit` library side: streaming readers (JSON list and JSONL), counts, malformed records."""

from __future__ import annotations

import json

import pytest

from safellava.privacy.audit import audit_files, format_markdown
from safellava.privacy.records import RecordFileError, RecordWriter, detect_format, iter_raw, parse_record

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
    assert report.records == 4 and report.malformed == []
    assert report.answers == {"age": 2, "gender": 2, "race": 0, "eye_color": 1, "weight": 0}
    assert report.questions == {"age": 1, "gender": 0, "race": 1, "eye_color": 0, "weight": 0}
    assert set(report.to_json()) == {"records", "answers", "questions", "malformed"}


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


def test_malformed_records_are_counted_and_named(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", RECORDS + MALFORMED, extra_lines=["{not json", ""])
    report = audit_files([path], progress=False)
    assert report.records == len(RECORDS) + len(MALFORMED) + 1
    assert len(report.malformed) == 5
    reasons = {m.id: m.reason for m in report.malformed}
    assert "'conversations' must be a list" in reasons["bad1"]
    assert "no 'conversations'" in reasons["bad2"]
    assert "no string 'value'" in reasons["bad3"]
    assert any("not valid JSON" in m.reason and m.line == 9 for m in report.malformed)
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
    assert [m.index for m in one.malformed] == [m.index for m in two.malformed]


def test_json_reader_streams_records_byte_exact(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[ {"id": 1, "v": "a,]}[\\"x"} ,\n{"id": 2}\n,{"id":3, "s": "é"}]', encoding="utf-8")
    raws = list(iter_raw(str(path)))
    assert [r.text for r in raws] == ['{"id": 1, "v": "a,]}[\\"x"}', '{"id": 2}', '{"id":3, "s": "é"}']
    assert [r.index for r in raws] == [0, 1, 2]


def test_json_reader_across_chunk_boundaries(tmp_path, monkeypatch):
    import safellava.privacy.records as records

    monkeypatch.setattr(records, "_CHUNK_BYTES", 7)  # every record spans several reads
    path = write_json(tmp_path / "d.json", RECORDS)
    assert [json.loads(r.text) for r in iter_raw(path)] == RECORDS


def test_broken_json_list_is_a_clear_error(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[{"id": 1}, {"id": 2,, }]', encoding="utf-8")
    with pytest.raises(RecordFileError, match="invalid JSON in record #1"):
        list(iter_raw(str(path)))
    (tmp_path / "e.json").write_text('[{"id": 1}', encoding="utf-8")
    with pytest.raises(RecordFileError, match="not closed"):
        list(iter_raw(str(tmp_path / "e.json")))
    (tmp_path / "f.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(RecordFileError, match="expected a LLaVA JSON list"):
        detect_format(str(tmp_path / "f.txt"))


def test_writer_round_trip(tmp_path):
    for fmt in ("json", "jsonl"):
        path = tmp_path / f"out.{fmt}"
        with RecordWriter(str(path), fmt) as writer:
            for record in RECORDS:
                writer.write(json.dumps(record))
        assert [parse_record(r.text)[0] for r in iter_raw(str(path))] == RECORDS
