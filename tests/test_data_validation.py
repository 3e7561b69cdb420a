"""Bad input: every problem kind is found, named by id/line/kind, counted, and never silently lost."""

from __future__ import annotations

import json

import pytest
from test_data_support import (
    TOKENIZER_DIRS,
    image_processor,
    image_record,
    text_record,
    tokenizers,
    write_bomb_png,
    write_image,
    write_json,
)

from safellava.cli import main
from safellava.data.check import check_records
from safellava.data.dataset import SupervisedDataset, collect_report
from safellava.data.validate import DataValidationError
from safellava.records import PROBLEM_KINDS

GOOD_IMAGE = image_record("good", "ok.png", "What colour is it?", "Red.")
GOOD_TEXT = text_record("chat", "Say hello.", "Hello!")


def _faulty_records() -> list[tuple[str, object]]:
    """(expected kind, record) for every record-level kind (invalid_json is a JSONL line, added separately)."""
    turns = lambda *pairs: [{"from": role, "value": text} for role, text in pairs]  # noqa: E731
    return [
        ("invalid_record", ["not", "an", "object"]),
        ("invalid_record", {"id": "shape", "conversations": [{"from": "human"}]}),
        ("missing_conversations", {"id": "noconv"}),
        ("missing_conversations", {"id": "emptyconv", "conversations": []}),
        ("unknown_role", {"id": "role", "conversations": turns(("human", "q"), ("robot", "a"))}),
        ("roles_not_alternating", {"id": "order", "conversations": turns(("human", "q"), ("human", "q2"), ("gpt", "a"))}),
        ("roles_not_alternating", {"id": "endsuser", "conversations": turns(("human", "q"), ("gpt", "a"), ("human", "q2"))}),
        ("empty_assistant_turn", {"id": "empty", "conversations": turns(("human", "q"), ("gpt", "  "))}),
        ("image_token_mismatch", {"id": "noplaceholder", "image": "ok.png", "conversations": turns(("human", "q"), ("gpt", "a"))}),
        ("image_token_mismatch", {"id": "twoplaceholders", "image": "ok.png", "conversations": turns(("human", "<image><image> q"), ("gpt", "a"))}),
        ("image_token_mismatch", {"id": "textonlyplaceholder", "conversations": turns(("human", "<image> q"), ("gpt", "a"))}),
        ("image_path_escape", image_record("escape", "../outside.png", "q", "a")),
        ("missing_image", image_record("missing", "nowhere.png", "q", "a")),
        ("corrupt_image", image_record("corrupt", "corrupt.png", "q", "a")),
        ("corrupt_image", image_record("truncated", "truncated.png", "q", "a")),
        ("image_too_large", image_record("bomb", "bomb.png", "q", "a")),
    ]


@pytest.fixture()
def faulty(tmp_path):
    """A JSONL file: good records, one invalid JSON line, and one record per fault kind; plus its images."""
    images = tmp_path / "images"
    write_image(images / "ok.png")
    write_image(tmp_path / "outside.png")
    (images / "corrupt.png").write_bytes(b"this is not a png")
    whole = (write_image(tmp_path / "big.png", size=(64, 64))).read_bytes()
    (images / "truncated.png").write_bytes(whole[: len(whole) // 2])
    write_bomb_png(images / "bomb.png")
    lines = [json.dumps(GOOD_IMAGE), json.dumps(GOOD_TEXT), "{broken json"]
    lines += [json.dumps(record) for _, record in _faulty_records()]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, images


def test_check_finds_every_kind_by_id_and_line(faulty):
    path, images = faulty
    report = check_records(path, images, cache_dir=path.parent / "cache", progress=False)
    found = {(p.id, p.kind) for p in report.problems}
    for kind, record in _faulty_records():
        record_id = record["id"] if isinstance(record, dict) else None
        assert any(k == kind and (record_id is None or i == record_id) for i, k in found), (kind, record_id)
    invalid = [p for p in report.problems if p.kind == "invalid_json"]
    assert len(invalid) == 1 and invalid[0].line == 3
    assert report.records_seen == 3 + len(_faulty_records()) and report.records_kept == 2
    assert report.records_dropped == len(_faulty_records()) + 1


def test_unreadable_image(tmp_path, monkeypatch):
    """A file that exists but cannot be read (permissions; simulated, since tests may run as root)."""
    import safellava.data.validate as validate

    write_image(tmp_path / "images" / "locked.png")
    monkeypatch.setattr(validate.os, "access", lambda path, mode: False)
    path = write_json(tmp_path / "d.json", [image_record("locked", "locked.png", "q", "a")])
    (problem,) = check_records(path, tmp_path / "images", cache_dir=tmp_path / "cache", progress=False).problems
    assert problem.kind == "unreadable_image" and "permissions" in problem.detail


def test_length_problems_count_image_tokens(tmp_path):
    tokenizer = tokenizers()["qwen_bpe"]
    write_image(tmp_path / "images" / "ok.png")
    records = [
        image_record("fits", "ok.png", "q", "short"),
        image_record("long", "ok.png", "q", "word " * 30),
        image_record("hopeless", "ok.png", "word " * 60, "a"),
    ]
    path = write_json(tmp_path / "d.json", records)
    report = check_records(
        path, tmp_path / "images", tokenizer=tokenizer, template="qwen_1_5", image_token_count=20,
        model_max_length=60, cache_dir=tmp_path / "cache", progress=False,
    )
    kinds = {p.id: p.kind for p in report.problems}
    assert kinds == {"long": "too_long", "hopeless": "all_targets_truncated"}
    assert "20 of them image tokens" in report.problems[0].detail
    assert report.records_truncated == 1 and report.records_dropped == 1


def test_training_skips_and_counts_or_stops_in_strict_mode(faulty):
    path, images = faulty
    tokenizer = tokenizers()["llama_sp"]
    common = dict(template="vicuna_v1", tokenizer=tokenizer, image_processor=image_processor(), image_folder=images,
                  image_token_count=4, model_max_length=512, cache_dir=path.parent / "cache", progress=False)
    dataset = SupervisedDataset(path, image_check="decode", **common)
    assert len(dataset) == 2 and dataset.report.records_kept == 2
    assert dataset.report.records_dropped == dataset.report.records_seen - 2
    assert set(dataset.report.counts) == set(PROBLEM_KINDS) - {"unreadable_image", "too_long", "all_targets_truncated"}
    assert "records:" in dataset.report.summary() and "image_path_escape: 1" in dataset.report.summary()
    with pytest.raises(DataValidationError, match=r"data.jsonl:3 id=#2 invalid_json"):
        SupervisedDataset(path, validation="strict", **common)


def test_problems_found_while_building_samples_are_counted_and_replaced(tmp_path):
    images = tmp_path / "images"
    write_image(images / "ok.png")
    (images / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    records = [image_record("bad", "bad.png", "q", "a"), image_record("ok", "ok.png", "q", "b"), GOOD_TEXT]
    path = write_json(tmp_path / "d.json", records)
    common = dict(template="qwen_1_5", tokenizer=tokenizers()["qwen_bpe"], image_processor=image_processor(),
                  image_folder=images, image_token_count=4, model_max_length=256, cache_dir=tmp_path / "cache",
                  progress=False, image_check="exists")  # "exists" lets the corrupt file through to training
    dataset = SupervisedDataset(path, problems_dir=tmp_path / "problems", **common)
    assert len(dataset) == 3
    item = dataset[0]  # the corrupt image: replaced by the next image sample, and counted
    assert item["pixel_values"].shape[0] == 1
    assert item["input_ids"].tolist() == dataset[1]["input_ids"].tolist()
    dataset[0]
    assert dataset.report.counts == {"corrupt_image": 1} and dataset.report.records_dropped == 1
    merged = collect_report(dataset)
    assert merged.counts == {"corrupt_image": 1} and (tmp_path / "problems").is_dir()
    strict = SupervisedDataset(path, validation="strict", **common)
    with pytest.raises(DataValidationError, match="id=bad corrupt_image"):
        strict[0]


def test_a_decompression_bomb_is_skipped_and_counted_by_training(tmp_path):
    images = tmp_path / "images"
    write_image(images / "ok.png")
    write_bomb_png(images / "bomb.png")
    records = [image_record("bomb", "bomb.png", "q", "a"), image_record("ok", "ok.png", "q", "b")]
    path = write_json(tmp_path / "d.json", records)
    dataset = SupervisedDataset(path, "qwen_1_5", tokenizers()["qwen_bpe"], image_processor(), images, 4, 256,
                                cache_dir=tmp_path / "cache", progress=False)  # default image_check: exists
    assert dataset[0]["input_ids"].tolist() == dataset[1]["input_ids"].tolist()  # replaced by the next sample
    assert dataset.report.counts == {"image_too_large": 1}
    assert "900000000 pixels" in dataset.report.problems[0].detail and "max_image_pixels" in dataset.report.problems[0].detail


def test_the_pixel_limit_is_configurable(tmp_path):
    from safellava.data.images import DEFAULT_MAX_IMAGE_PIXELS, max_image_pixels, set_max_image_pixels

    write_image(tmp_path / "images" / "ok.png", size=(40, 24))
    path = write_json(tmp_path / "d.json", [image_record("ok", "ok.png", "q", "a")])
    check = lambda: check_records(path, tmp_path / "images", cache_dir=tmp_path / "c", progress=False)  # noqa: E731
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS and check().problems == []
    try:
        set_max_image_pixels(900)
        assert [p.kind for p in check().problems] == ["image_too_large"]
        set_max_image_pixels(0)  # no limit
        assert main(["data", "check", str(path), "--image-folder", str(tmp_path / "images"), "--cache-dir",
                     str(tmp_path / "c"), "--max-image-pixels", "900"]) == 1  # the CLI sets the same limit
        assert max_image_pixels() == 900
        set_max_image_pixels(0)
        write_bomb_png(tmp_path / "images" / "ok.png", side=20_000)
        assert [p.kind for p in check().problems] == ["corrupt_image"]  # read past the header, then broken
    finally:
        set_max_image_pixels(DEFAULT_MAX_IMAGE_PIXELS)


def test_cli_check_reports_faults_and_exits_non_zero(faulty, capsys):
    path, images = faulty
    out = path.parent / "problems.json"
    code = main(["data", "check", str(path), "--image-folder", str(images), "--json", str(out),
                 "--cache-dir", str(path.parent / "cache")])
    assert code == 1
    printed = capsys.readouterr().out
    assert "id=escape image_path_escape" in printed and "corrupt_image: 2" in printed
    assert "id=bomb image_too_large" in printed
    written = json.loads(out.read_text())
    assert written["counts"]["roles_not_alternating"] == 2
    assert all(set(problem) == {"id", "line", "kind", "detail"} for problem in written["problems"])
    assert sum(written["counts"].values()) == len(written["problems"])


def test_cli_check_with_a_tokenizer_and_a_clean_file(tmp_path, capsys):
    tokenizers()
    write_image(tmp_path / "images" / "ok.png")
    path = write_json(tmp_path / "clean.json", [GOOD_IMAGE, GOOD_TEXT])
    tokenizer_dir = tmp_path / "tok"
    tokenizers()["qwen_bpe"].save_pretrained(tokenizer_dir)
    args = ["data", "check", str(path), "--image-folder", str(tmp_path / "images"), "--cache-dir", str(tmp_path / "c")]
    assert main(args + ["--tokenizer", str(tokenizer_dir), "--template", "qwen_1_5", "--image-token-count", "8",
                        "--model-max-length", "512"]) == 0
    assert "2 records: 2 kept, 0 dropped" in capsys.readouterr().out
    assert main(args + ["--tokenizer", str(TOKENIZER_DIRS["qwen_bpe"]), "--template", "qwen_1_5",
                        "--image-token-count", "8", "--model-max-length", "512"]) == 2  # no <image> token
    assert "has no '<image>' token" in capsys.readouterr().err


def test_a_broken_json_array_is_reported_and_never_trained_on(tmp_path):
    text = json.dumps([GOOD_TEXT, GOOD_TEXT, GOOD_TEXT], indent=1)
    cut = text.rindex("{")
    path = tmp_path / "broken.json"
    path.write_text(text[:cut] + "{oops" + text[cut + 1 :], encoding="utf-8")
    report = check_records(path, None, cache_dir=tmp_path / "cache", progress=False)
    (problem,) = report.problems
    assert problem.kind == "invalid_json" and problem.id == "<file>"
    assert problem.line == text[:cut].count("\n") + 1
    with pytest.raises(DataValidationError, match="records after this point could not be read"):
        SupervisedDataset(path, "qwen_1_5", tokenizers()["qwen_bpe"], image_processor(), None, 4, 256,
                          cache_dir=tmp_path / "cache", progress=False)


def test_cli_check_with_a_model_recipe(tmp_path, capsys):
    """--model-recipe takes the tokenizer, template and image-token count (16 for `tiny`) from the recipe."""
    write_image(tmp_path / "images" / "ok.png")
    path = write_json(tmp_path / "d.json", [GOOD_IMAGE, image_record("long", "ok.png", "q", "word " * 40)])
    args = ["data", "check", str(path), "--image-folder", str(tmp_path / "images"), "--cache-dir", str(tmp_path / "c"),
            "--model-recipe", "tiny", "--model-max-length", "120"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "id=long too_long" in out and "(16 of them image tokens)" in out and "id=good" not in out


@pytest.mark.parametrize("content", ["", "[]", "\n\n"])
def test_cli_check_of_an_empty_file_is_an_error_not_zero_records_found(tmp_path, capsys, content):
    path = tmp_path / "empty.json"
    path.write_text(content, encoding="utf-8")
    assert main(["data", "check", str(path), "--cache-dir", str(tmp_path / "c")]) == 2
    assert f"{path} holds no record: nothing to train on" in capsys.readouterr().err
