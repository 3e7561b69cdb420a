"""The one LLaVA reader (`safellava.records`): layouts, byte ranges, lines, faults, BOM, bad bytes, roles."""

from __future__ import annotations

import json

import pytest

import safellava.records.reader as reader_module
from safellava.records import (
    RawRecord,
    ReadFault,
    check_text,
    check_value,
    detect_layout,
    parse_record,
    read_records,
    turn_keys,
)
from safellava.records.writer import RecordWriter

RECORDS = [
    {"id": "a", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"},
                                                   {"from": "gpt", "value": "A red bus."}]},
    {"id": "b", "conversations": [{"role": "user", "content": "Hi é"}, {"role": "assistant", "content": "Hello."}]},
    {"id": 3, "conversations": [{"from": "Human", "value": "Count."}, {"from": "GPT", "value": "Two."}]},
]


def records_of(path):
    return [item for item in read_records(path) if isinstance(item, RawRecord)]


def test_each_record_is_its_exact_bytes_with_its_line(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('[ {"id": 1, "v": "a,]}[\\"x"} ,\n{"id": 2}\n,{"id":3, "s": "é"}]', encoding="utf-8")
    items = list(read_records(path))
    data = path.read_bytes()
    assert [r.text for r in items] == ['{"id": 1, "v": "a,]}[\\"x"}', '{"id": 2}', '{"id":3, "s": "é"}']
    assert [r.line for r in items] == [1, 2, 3]
    for item in items:
        assert data[item.offset : item.offset + item.length].decode() == item.text


def test_array_lines_and_concatenated_objects_give_the_same_records(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(RECORDS, indent=2), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    (tmp_path / "c.json").write_text("\n".join(json.dumps(r, indent=2) for r in RECORDS), encoding="utf-8")
    assert [detect_layout(tmp_path / n) for n in ("a.json", "b.jsonl", "c.json")] == ["array", "lines", "objects"]
    for name in ("a.json", "b.jsonl", "c.json"):
        assert [parse_record(r.text)[0] for r in records_of(tmp_path / name)] == RECORDS, name


def test_reading_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_module, "_CHUNK_BYTES", 7)  # every record spans several reads
    path = tmp_path / "d.json"
    path.write_text(json.dumps(RECORDS * 5, indent=1, ensure_ascii=False), encoding="utf-8")
    items = [item for item in read_records(path, keep_values=True) if isinstance(item, RawRecord)]
    assert [r.value for r in items] == RECORDS * 5 and all(r.value is None for r in records_of(path))
    data = path.read_bytes()
    assert all(data[r.offset : r.offset + r.length].decode() == r.text for r in items)


def test_a_byte_order_mark_is_skipped_in_every_layout(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "a.json").write_bytes(bom + json.dumps(RECORDS).encode())
    (tmp_path / "b.jsonl").write_bytes(bom + "".join(json.dumps(r) + "\n" for r in RECORDS).encode())
    for name in ("a.json", "b.jsonl"):
        items = records_of(tmp_path / name)
        assert [check_text(r.text, r.index).problems for r in items] == [[], [], []], name
        assert items[0].offset == 3 + (1 if name == "a.json" else 0)


def test_a_bad_line_is_a_record_that_fails_to_parse_and_reading_goes_on(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"id": 1}\n{broken\n\n{"id": 2}\n{"id": "\xff\xfe"}\n')
    items = records_of(path)
    assert [r.line for r in items] == [1, 2, 4, 5]
    checked = [check_text(r.text, r.index) for r in items]
    assert [c.problems[0][0] for c in checked] == ["missing_conversations", "invalid_json", "missing_conversations", "invalid_json"]
    assert "UTF-8" in checked[3].problems[0][1]


def test_faults_stop_reading_where_the_file_breaks(tmp_path):
    cases = {
        "mid.json": ('[{"id": 1}, {"id": 2,, }, {"id": 3}]', "invalid JSON in record #1"),
        "open.json": ('[{"id": 1}', "expected ',' or ']'"),
        "tail.json": ('[{"id": 1}] and more', "unexpected text after the closing ']'"),
        "empty.json": ("  \n", "holds no records"),
        "none.json": ("[]", "holds no records"),
        "text.txt": ("hello", "starts with 'hello'"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        items = list(read_records(tmp_path / name))
        assert isinstance(items[-1], ReadFault) and message in items[-1].detail, name
        assert all(isinstance(item, RawRecord) for item in items[:-1])
    assert len(list(read_records(tmp_path / "mid.json"))) == 2  # record 0, then the fault


def test_roles_in_every_spelling_are_one_vocabulary():
    for record in RECORDS:
        checked = check_text(json.dumps(record), 0)
        assert checked.readable and checked.problems == []
        assert [t.role for t in checked.turns] == ["user", "assistant"]
    assert turn_keys({"role": "user", "content": ""}) == ("role", "content")
    assert turn_keys({"from": "human", "value": ""}) == ("from", "value")
    unknown = check_text(json.dumps({"conversations": [{"from": "robot", "value": "x"}]}), 4)
    assert not unknown.readable and unknown.id == "#4" and unknown.problems[0][0] == "unknown_role"


def test_readable_records_with_problems_are_still_read():
    record = {"id": "x", "conversations": [{"from": "gpt", "value": "Hi."}, {"from": "human", "value": "Yo"}]}
    checked = check_text(json.dumps(record), 0)
    assert checked.readable and [kind for kind, _ in checked.problems] == ["roles_not_alternating"]


def test_writer_round_trips_both_layouts_and_bad_bytes(tmp_path):
    source = tmp_path / "bad.jsonl"
    source.write_bytes(b'{"id": "\xff"}\n')
    (raw,) = records_of(source)
    for layout in ("array", "lines"):
        path = tmp_path / f"out-{layout}"
        with RecordWriter(path, layout) as writer:
            for record in RECORDS:
                writer.write(json.dumps(record))
            writer.write(raw.text)
        items = records_of(path)
        assert [parse_record(r.text)[0] for r in items[:3]] == RECORDS
        assert path.read_bytes().count(b'"\xff"') == 1  # the bytes are kept as they were


def test_an_interrupted_writer_leaves_no_file(tmp_path):
    path = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt):
        with RecordWriter(path, "array") as writer:
            writer.write("{}")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_one_pass_check_agrees_with_the_thorough_one():
    """check_value takes a one-pass route for sound records; every verdict must equal the thorough check's."""
    import itertools

    from safellava.records.problems import _check_thoroughly

    roles = ["human", "gpt", "system", "User", "ASSISTANT", "robot", 3]
    texts = ["<image>\nq", "a", "", "  ", "x <image>", 7]
    images = [None, "a.jpg", "", ["a.jpg"], ["a.jpg", "b.jpg"], 5]
    seen = 0
    for length in (1, 2, 3, 4):
        for pattern in itertools.product(range(len(roles)), repeat=length):
            for image, text_choice in itertools.product(images, range(len(texts))):
                turns = [{"from": roles[r], "value": texts[(text_choice + k) % len(texts)]} for k, r in enumerate(pattern)]
                record = {"id": "r", "conversations": turns, **({} if image is None else {"image": image})}
                fast, thorough = check_value(record, 0), _check_thoroughly(record, "r")
                assert (fast.turns, fast.problems) == (thorough.turns, thorough.problems), record
                seen += 1
    assert seen > 50_000
    for odd in (None, [], {}, {"conversations": []}, {"conversations": "x"}, {"conversations": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}):
        fast, thorough = check_value(odd, 0), _check_thoroughly(odd, record_id_of(odd))
        assert (fast.turns, fast.problems) == (thorough.turns, thorough.problems), odd


def record_id_of(value):
    from safellava.records import record_id

    return record_id(value, "#0")
