"""Reading LLaVA JSON / JSONL / datasets into the memory-mapped index, and mixing sources."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_data_support import image_record, text_record, write_json

import safellava.data.record_index as index_module
import safellava.records.reader as reader_module
from safellava.data.record_index import RecordFormatError, open_records

RECORDS = [
    image_record("000000033471", "coco/train2017/000000033471.jpg", "What are the colors of the bus?", "White and red."),
    text_record("sharegpt_1", "Écris un haïku — « été »", "Chaleur d'été…"),
    {
        "id": "multi",
        "image": ["a.jpg", "b.jpg"],
        "conversations": [
            {"from": "human", "value": "<image> and <image>: same?"},
            {"from": "gpt", "value": "No."},
            {"from": "human", "value": "Why?"},
            {"from": "gpt", "value": "Colours differ."},
        ],
    },
]


def test_json_array_rows_round_trip_with_lines_ids_and_metadata(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_module, "_CHUNK_BYTES", 37)  # records straddle many read chunks
    path = write_json(tmp_path / "mix.json", RECORDS * 20)
    source = open_records(path, cache_dir=tmp_path / "cache")
    assert len(source) == 60
    lines = path.read_text(encoding="utf-8").split("\n")
    for index in (0, 1, 2, 59):
        assert source.record(index) == RECORDS[index % 3]
        assert json.loads(source.raw(index)) == RECORDS[index % 3]
        where = source.location(index)
        assert where.id == RECORDS[index % 3]["id"] and lines[where.line - 1].strip() == "{"
    assert source.n_images[:3].tolist() == [1, 0, 2]
    assert source.image_paths(2) == ["a.jpg", "b.jpg"] and source.image_paths(1) == []
    assert source.n_words[1] == len("Écris un haïku — « été » Chaleur d'été…".split())
    assert not source.problem_mask.any() and source.file_faults == []


def test_byte_order_mark_pickling_and_a_file_changed_under_the_index(tmp_path):
    import pickle

    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(RECORDS, ensure_ascii=False).encode("utf-8"))
    source = open_records(path, cache_dir=tmp_path / "cache")
    clone = pickle.loads(pickle.dumps(source))  # what a spawned data-loader worker receives
    assert len(pickle.dumps(source)) < 1000  # paths only, never the records
    assert [clone.record(i) for i in range(3)] == RECORDS
    path.write_bytes(path.read_bytes() + b"\n")
    with pytest.raises(RecordFormatError, match="changed after it was indexed"):
        pickle.loads(pickle.dumps(source)).record(0)


def test_the_index_is_built_once_and_reused(tmp_path, monkeypatch):
    path = write_json(tmp_path / "d.json", RECORDS)
    open_records(path, cache_dir=tmp_path / "cache")

    def fail(*args, **kwargs):
        raise AssertionError("index rebuilt")

    monkeypatch.setattr(index_module, "_write_index", fail)
    assert open_records(path, cache_dir=tmp_path / "cache").record(0) == RECORDS[0]
    path.write_text(json.dumps(RECORDS[:1]))  # a changed file gets a new index
    with pytest.raises(AssertionError, match="index rebuilt"):
        open_records(path, cache_dir=tmp_path / "cache")


def test_jsonl_keeps_invalid_lines_as_counted_problems(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n\n{not json\n" + json.dumps(RECORDS[1]) + "\n", encoding="utf-8")
    source = open_records(path, cache_dir=tmp_path / "cache")
    assert len(source) == 3
    assert [source.location(i).line for i in range(3)] == [1, 3, 4]
    kind, detail = source.structural(1)[0]
    assert kind == "invalid_json" and "not valid JSON" in detail
    assert source.problem_mask.tolist() == [False, True, False]
    with pytest.raises(RecordFormatError, match="d.jsonl:3: invalid JSON"):
        source.record(1)


def test_a_json_array_broken_mid_file_is_a_fatal_error_with_its_line(tmp_path):
    text = json.dumps(RECORDS, indent=1)
    broken = text.replace('"No."', '"No." oops', 1)
    path = tmp_path / "broken.json"
    path.write_text(broken, encoding="utf-8")
    source = open_records(path, cache_dir=tmp_path / "cache")
    assert len(source) == 2  # the records before the error are indexed
    (error,) = source.file_faults
    expected_line = broken[: broken.index("oops")].count("\n") + 1
    assert error.line == expected_line and "records after this point could not be read" in error.detail


def test_structural_problems_are_stored_in_the_index(tmp_path):
    bad = {"id": "b", "conversations": [{"from": "human", "value": "<image> hi"}, {"from": "gpt", "value": " "}]}
    source = open_records(write_json(tmp_path / "d.json", [bad]), cache_dir=tmp_path / "cache")
    kinds = sorted(kind for kind, _ in source.structural(0))
    assert kinds == ["empty_assistant_turn", "image_token_mismatch"]


def test_sources_mix_with_weights_deterministically(tmp_path):
    first = write_json(tmp_path / "a.json", [text_record(f"a{i}", "q", "a") for i in range(10)])
    second = write_json(tmp_path / "b.jsonl", [text_record(f"b{i}", "q", "a") for i in range(8)], jsonl=True)
    spec = [{"path": str(first), "weight": 2}, {"path": str(second), "weight": 0.5}]
    mixed = open_records(spec, cache_dir=tmp_path / "cache", seed=3)
    assert len(mixed) == 20 + 4
    ids = [mixed.location(i).id for i in range(len(mixed))]
    assert sorted(ids[:20]) == sorted([f"a{i}" for i in range(10)] * 2)
    assert len(set(ids[20:])) == 4 and all(i.startswith("b") for i in ids[20:])
    again = open_records(spec, cache_dir=tmp_path / "cache", seed=3)
    assert [again.location(i).id for i in range(len(again))] == ids
    assert mixed.n_images.shape == (24,) and mixed.location(22).source.endswith("b.jsonl")
    with pytest.raises(RecordFormatError, match="weight must be positive"):
        open_records([{"path": str(first), "weight": 0}], cache_dir=tmp_path / "cache")


def test_hugging_face_datasets_with_mixed_shapes(tmp_path):
    """A `datasets` table fills absent keys with None; the index drops them, so text-only stays text-only."""
    import datasets

    table = datasets.Dataset.from_list([RECORDS[0], RECORDS[1]])
    table.save_to_disk(str(tmp_path / "saved"))
    source = open_records(tmp_path / "saved", cache_dir=tmp_path / "cache")
    assert len(source) == 2
    assert source.record(1) == RECORDS[1] and "image" not in source.record(1)
    assert source.n_images.tolist() == [1, 0]


def test_unknown_sources_get_a_clear_error(tmp_path):
    with pytest.raises(RecordFormatError, match="not an existing file or folder"):
        open_records(tmp_path / "nothing.json", cache_dir=tmp_path / "cache")
    path = tmp_path / "prose.txt"
    path.write_text("Some notes\n")
    source = open_records(path, cache_dir=tmp_path / "cache")
    assert "JSON array of records" in source.file_faults[0].detail
    assert np.asarray(source.n_images).size == 0


def test_pretty_printed_objects_one_after_another_are_records(tmp_path):
    path = tmp_path / "pretty.json"
    path.write_text("\n".join(json.dumps(record, indent=2) for record in RECORDS) + "\n")
    source = open_records(path, cache_dir=tmp_path / "cache")
    assert [source.record(i) for i in range(len(source))] == RECORDS and source.file_faults == []


def test_a_missing_hub_dataset_says_what_was_tried(tmp_path):
    with pytest.raises(RecordFormatError, match="loading it as the Hub dataset 'nobody/nothing'"):
        open_records("nobody/nothing", cache_dir=tmp_path / "cache")
