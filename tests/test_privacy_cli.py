"""`safellava audit` and `safellava clean` end to end through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from test_privacy_audit import MALFORMED, RECORDS, write_json, write_jsonl

from safellava.cli import main
from safellava.privacy.lexicon import SAFE_LLAVA_REFUSAL


def test_audit_prints_a_table_and_writes_the_json_shape(tmp_path, capsys):
    src = write_json(tmp_path / "mix.json", RECORDS + MALFORMED)
    assert main(["audit", src, "--json", str(tmp_path / "audit.json"), "--examples", "2", "--workers", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| attribute | answers mentioning it |" in out and "## Malformed records (4" in out
    document = json.loads((tmp_path / "audit.json").read_text())
    assert document == {
        "records": 8,
        "answers": {"age": 2, "gender": 2, "race": 0, "eye_color": 1, "weight": 0},
        "questions": {"age": 1, "gender": 0, "race": 1, "eye_color": 0, "weight": 0},
        "malformed": 4,
    }


def test_clean_then_audit_end_to_end(tmp_path, capsys):
    src = write_jsonl(tmp_path / "mix.jsonl", RECORDS + MALFORMED)
    dst, changes, stats = tmp_path / "safe.jsonl", tmp_path / "changes.jsonl", tmp_path / "stats.json"
    code = main(["clean", src, str(dst), "--changes", str(changes), "--stats", str(stats), "--workers", "1", "--no-progress"])
    assert code == 0
    assert "cleaned 8 records" in capsys.readouterr().out
    summary = json.loads(stats.read_text())
    assert (summary["records"], summary["malformed"], summary["explicit_refusals"]) == (8, 4, 1)
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
