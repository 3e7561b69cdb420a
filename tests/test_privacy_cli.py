"""`safellava audit` and `safellava clean` end to end through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_privacy_audit import MALFORMED, RECORDS, write_json, write_jsonl

from safellava.cli import main
from safellava.privacy.lexicon import SAFE_LLAVA_REFUSAL


def test_audit_prints_a_table_and_writes_the_json_shape(tmp_path, capsys):
    src = write_json(tmp_path / "mix.json", RECORDS + MALFORMED)
    assert main(["audit", src, "--json", str(tmp_path / "audit.json"), "--examples", "2", "--workers", "2", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "| attribute | answers mentioning it |" in out and "## Unreadable records (4" in out
    document = json.loads((tmp_path / "audit.json").read_text())
    assert document == {
        "records": 8,
        "answers": {"age": 2, "gender": 2, "race": 0, "eye_color": 1, "weight": 0},
        "questions": {"age": 1, "gender": 0, "race": 1, "eye_color": 0, "weight": 0},
        "unreadable": 4,
        "records_with_problems": 4,
        "problems": {"missing_conversations": 2, "invalid_record": 2},
        "file_faults": [],
    }
    assert main(["audit", write_json(tmp_path / "good.json", RECORDS), "--no-progress"]) == 0


def test_clean_then_audit_end_to_end(tmp_path, capsys):
    src = write_jsonl(tmp_path / "mix.jsonl", RECORDS + MALFORMED)
    dst, changes, stats = tmp_path / "safe.jsonl", tmp_path / "changes.jsonl", tmp_path / "stats.json"
    code = main(["clean", src, str(dst), "--changes", str(changes), "--stats", str(stats), "--workers", "1", "--no-progress"])
    assert code == 1  # written, but the unreadable records were left out
    printed = capsys.readouterr()
    assert "cleaned 8 records" in printed.out and "4 unreadable records were LEFT OUT" in printed.err
    summary = json.loads(stats.read_text())
    assert (summary["records"], summary["dropped"], summary["records_written"], summary["explicit_refusals"]) == (8, 4, 4, 1)
    assert len(changes.read_text().splitlines()) == 2
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert out[0]["conversations"][1]["value"] == SAFE_LLAVA_REFUSAL
    assert main(["audit", str(dst), "--json", str(tmp_path / "a.json"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "a.json").read_text())["answers"] == dict.fromkeys(summary["residual"]["records"], 0)


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nope.json"), "--no-progress"]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("[{]", encoding="utf-8")
    assert main(["clean", str(broken), str(tmp_path / "o.json"), "--no-progress"]) == 2
    assert "invalid JSON in record #0" in capsys.readouterr().err


def test_help_has_examples():
    for command in ("audit", "clean"):
        out = subprocess.run(
            [sys.executable, "-m", "safellava.cli", command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "examples:" in out and f"safellava {command}" in out


def test_no_output_may_replace_an_input(tmp_path, capsys):
    src = write_json(tmp_path / "b.json", RECORDS)
    original = (tmp_path / "b.json").read_bytes()
    (tmp_path / "link.json").symlink_to("b.json")
    attempts = [
        ["clean", src, str(tmp_path / "link.json")],
        ["clean", src, str(tmp_path / "o.json"), "--changes", src],
        ["clean", src, str(tmp_path / "o.json"), "--stats", str(tmp_path / "link.json")],
        ["clean", src, str(tmp_path / "o.json"), "--stats", str(tmp_path / "o.json")],
        ["audit", src, "--json", str(tmp_path / "link.json")],
    ]
    for argv in attempts:
        assert main(argv + ["--no-progress"]) == 2, argv
        assert "nothing was written" in capsys.readouterr().err
        assert (tmp_path / "b.json").read_bytes() == original
    assert not (tmp_path / "o.json").exists()


def _big_file(path, records: int, jsonl: bool) -> str:
    record = json.dumps(RECORDS[1])
    with open(path, "w", encoding="utf-8") as handle:
        if jsonl:
            handle.writelines(record + "\n" for _ in range(records))
        else:
            handle.write("[" + ",\n".join([record] * records) + "]")
    return str(path)


@pytest.mark.parametrize(("sig", "jsonl"), [(signal.SIGINT, False), (signal.SIGTERM, True)])
def test_an_interrupted_clean_leaves_no_output(tmp_path, sig, jsonl):
    src = _big_file(tmp_path / ("big.jsonl" if jsonl else "big.json"), 150_000, jsonl)
    out = tmp_path / "out" / "safe.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "safellava.cli", "clean", src, str(out), "--changes", str(tmp_path / "out" / "c.jsonl"),
         "--workers", "1", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not any(".partial-" in p.name for p in (tmp_path / "out").glob(".*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    time.sleep(0.3)
    os.kill(process.pid, sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in err
    assert list((tmp_path / "out").iterdir()) == []  # no output, no change log, no partial file


def test_a_file_broken_midway_exits_2_and_writes_nothing(tmp_path, capsys):
    good = ",".join(json.dumps(r) for r in RECORDS * 100)
    src = tmp_path / "in.json"
    src.write_text("[" + good + ", {broken}, " + good + "]", encoding="utf-8")
    assert main(["clean", str(src), str(tmp_path / "out.json"), "--stats", str(tmp_path / "s.json"), "--no-progress"]) == 2
    assert "Nothing was written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]
