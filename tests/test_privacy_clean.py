"""`safellava clean` library side: refusals, rewrites, structure kept, unreadable records left out,
outputs that never replace inputs or look complete when they are not, idempotence, and the LLM pass with
its fidelity guard (fake chat backends)."""

from __future__ import annotations

import json

import pytest
from test_privacy_audit import MALFORMED, RECORDS, write_json, write_jsonl

from safellava.errors import UserError
from safellava.privacy.audit import audit_files
from safellava.privacy.clean import clean_file
from safellava.privacy.fidelity import content_words, guarded_rewrite, retention
from safellava.privacy.lexicon import SAFE_LLAVA_REFUSAL
from safellava.records import RawRecord
from safellava.records import read_records as read_raw


def read_records(path):
    return [json.loads(r.text) for r in read_raw(path) if isinstance(r, RawRecord)]


def answers(record):
    return [t["value"] for t in record["conversations"] if t["from"] == "gpt"]


def test_explicit_question_gets_the_refusal_and_descriptions_become_neutral(tmp_path):
    src = write_json(tmp_path / "in.json", RECORDS)
    stats = clean_file(src, str(tmp_path / "out.json"), progress=False)
    out = read_records(tmp_path / "out.json")
    assert answers(out[0]) == [SAFE_LLAVA_REFUSAL]
    assert answers(out[1]) == ["A person walks a dog in the park."]
    assert out[2] == RECORDS[2] and out[3] == RECORDS[3]
    assert (stats.records, stats.explicit_refusals, stats.implicit_rewrites, stats.records_changed) == (4, 1, 1, 2)
    assert stats.to_json()["questions_asking"]["age"] == 1


def test_structure_ids_and_order_are_kept(tmp_path):
    src = write_json(tmp_path / "in.json", RECORDS)
    clean_file(src, str(tmp_path / "out.json"), progress=False)
    out = read_records(tmp_path / "out.json")
    assert [r.get("id") for r in out] == [r.get("id") for r in RECORDS]
    for before, after in zip(RECORDS, out):
        assert {k: v for k, v in before.items() if k != "conversations"} == {k: v for k, v in after.items() if k != "conversations"}
        assert [t["from"] for t in before["conversations"]] == [t["from"] for t in after["conversations"]]
        human = [t["value"] for t in before["conversations"] if t["from"] == "human"]
        assert human == [t["value"] for t in after["conversations"] if t["from"] == "human"]


def test_custom_refusal(tmp_path):
    src = write_json(tmp_path / "in.json", RECORDS)
    clean_file(src, str(tmp_path / "out.json"), refusal="No comment.", progress=False)
    assert answers(read_records(tmp_path / "out.json")[0]) == ["No comment."]
    with pytest.raises(UserError, match="mentions a biometric attribute"):
        clean_file(src, str(tmp_path / "x.json"), refusal="She cannot say.", progress=False)


def test_unreadable_records_are_left_out_and_listed(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", RECORDS[:2] + MALFORMED, extra_lines=["{broken", ""])
    stats = clean_file(src, str(tmp_path / "out.jsonl"), progress=False)
    assert [r["id"] for r in read_records(tmp_path / "out.jsonl")] == ["a", "b"]
    assert stats.records == 7 and stats.records_written == 2
    assert [(d["line"], d["id"]) for d in stats.dropped] == [(3, "bad1"), (4, "bad2"), (5, "bad3"), (6, "#5"), (7, "#6")]
    assert "invalid_json" in stats.dropped[-1]["reason"]


def test_unchanged_records_are_copied_byte_for_byte(tmp_path):
    src = tmp_path / "in.jsonl"
    quirky = '{"id":  "x",   "conversations": [{"from": "gpt", "value": "A red bus."}], "z": 1.50}'
    src.write_text(quirky + "\n", encoding="utf-8")
    clean_file(str(src), str(tmp_path / "out.jsonl"), progress=False)
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == quirky + "\n"


def test_json_in_json_out_and_jsonl_in_jsonl_out(tmp_path):
    for name, writer in (("in.json", write_json), ("in.jsonl", write_jsonl)):
        src = writer(tmp_path / name, RECORDS)
        dst = tmp_path / ("out" + name[2:])
        clean_file(src, str(dst), progress=False)
        first = dst.read_text().lstrip()[0]
        assert first == ("[" if name.endswith(".json") else "{")
        assert len(read_records(dst)) == len(RECORDS)


def test_cleaning_twice_changes_nothing_more(tmp_path):
    src = write_json(tmp_path / "in.json", RECORDS + MALFORMED)
    clean_file(src, str(tmp_path / "once.json"), progress=False)
    stats = clean_file(str(tmp_path / "once.json"), str(tmp_path / "twice.json"), progress=False)
    assert (tmp_path / "once.json").read_text() == (tmp_path / "twice.json").read_text()
    assert stats.records_changed == 0


def test_reaudit_finds_only_the_listed_residual(tmp_path):
    records = RECORDS + [{"id": "r", "conversations": [
        {"from": "human", "value": "What is happening?"},
        {"from": "gpt", "value": "The chef looks young while chopping onions."},
    ]}]
    src = write_json(tmp_path / "in.json", records)
    stats = clean_file(src, str(tmp_path / "out.json"), changes_path=str(tmp_path / "changes.jsonl"), progress=False)
    report = audit_files([str(tmp_path / "out.json")], progress=False)
    assert report.answers == stats.to_json()["residual"]["records"]
    assert report.answers["age"] == 1 and sum(report.answers.values()) == 1
    logged = [json.loads(line) for line in (tmp_path / "changes.jsonl").read_text().splitlines()]
    left = [c for c in logged if c.get("residual")]
    assert left and left[0]["id"] == "r" and left[0]["residual"][0]["reason"]


def test_change_log_lines(tmp_path):
    src = write_json(tmp_path / "in.json", RECORDS)
    clean_file(src, str(tmp_path / "out.json"), changes_path=str(tmp_path / "c.jsonl"), progress=False)
    logged = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [(c["id"], c["turn"], c["rule"]) for c in logged] == [("a", 1, "explicit-refusal"), ("b", 1, "implicit-rewrite")]
    assert logged[1]["before"] == RECORDS[1]["conversations"][1]["value"]
    assert logged[1]["after"] == "A person walks a dog in the park."


def test_an_all_biometric_answer_becomes_the_refusal(tmp_path):
    records = [{"id": "x", "conversations": [{"from": "human", "value": "Tell me about him."},
                                            {"from": "gpt", "value": "He appears to be in his thirties."}]}]
    stats = clean_file(write_json(tmp_path / "in.json", records), str(tmp_path / "out.json"), progress=False)
    assert answers(read_records(tmp_path / "out.json")[0]) == [SAFE_LLAVA_REFUSAL]
    assert stats.all_biometric_refusals == 1


def test_workers_give_identical_output(tmp_path):
    src = write_json(tmp_path / "in.json", (RECORDS + MALFORMED) * 400)
    clean_file(src, str(tmp_path / "one.json"), workers=1, progress=False)
    clean_file(src, str(tmp_path / "two.json"), workers=2, progress=False)
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()


def test_output_must_differ_from_input(tmp_path):
    src = write_json(tmp_path / "in.json", RECORDS)
    original = (tmp_path / "in.json").read_bytes()
    (tmp_path / "link.json").symlink_to(tmp_path / "in.json")
    (tmp_path / "hard.json").hardlink_to(tmp_path / "in.json")
    for output in (src, str(tmp_path / "link.json"), str(tmp_path / "hard.json"), str(tmp_path / "." / "in.json")):
        with pytest.raises(UserError, match="is the input"):
            clean_file(src, output, progress=False)
    with pytest.raises(UserError, match="is the input"):
        clean_file(src, str(tmp_path / "out.json"), changes_path=str(tmp_path / "link.json"), progress=False)
    assert (tmp_path / "in.json").read_bytes() == original
    assert not (tmp_path / "out.json").exists()


def test_role_content_turns_are_cleaned_in_their_own_spelling(tmp_path):
    record = {"id": "rc", "conversations": [
        {"role": "user", "content": "How old is the man?"},
        {"role": "assistant", "content": "He looks about 40 years old."},
        {"role": "user", "content": "Describe the scene."},
        {"role": "assistant", "content": "A young woman with blue eyes walks a dog."},
    ]}
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps(record).encode() + b"\n" + json.dumps(RECORDS[0]).encode() + b"\n")
    stats = clean_file(str(src), str(tmp_path / "out.jsonl"), progress=False)
    out = read_records(tmp_path / "out.jsonl")
    assert [t["content"] for t in out[0]["conversations"]][1::2] == [SAFE_LLAVA_REFUSAL, "A person walks a dog."]
    assert set(out[0]["conversations"][0]) == {"role", "content"}
    assert stats.dropped == [] and stats.records_written == 2
    assert sum(audit_files([str(tmp_path / "out.jsonl")], progress=False).answers.values()) == 0


def test_a_file_broken_midway_leaves_no_output(tmp_path):
    good = ",".join(json.dumps(r) for r in RECORDS * 50)
    src = tmp_path / "in.json"
    src.write_text("[" + good + ', {"id": "x",, }, ' + good + "]", encoding="utf-8")
    with pytest.raises(UserError, match="invalid JSON in record #200.*Nothing was written"):
        clean_file(str(src), str(tmp_path / "out.json"), changes_path=str(tmp_path / "c.jsonl"), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


def test_a_previous_output_survives_a_failed_run(tmp_path):
    (tmp_path / "out.json").write_text("previous", encoding="utf-8")
    (tmp_path / "in.json").write_text('[{"id": 1},', encoding="utf-8")
    with pytest.raises(UserError):
        clean_file(str(tmp_path / "in.json"), str(tmp_path / "out.json"), progress=False)
    assert (tmp_path / "out.json").read_text() == "previous"


# --- the LLM pass and its fidelity guard ---------------------------------------------------------

class FakeBackend:
    """A chat backend that answers from a table, and records what it was asked."""

    name = "fake"

    def __init__(self, replies):
        self.replies = replies
        self.asked = []

    def complete(self, messages):
        text = messages[-1]["content"]
        self.asked.append(text)
        reply = self.replies[text]
        if isinstance(reply, Exception):
            raise reply
        return reply


ORIGINAL = "The chef looks young while he slices a red ball of dough on the wooden table."


def test_guard_accepts_a_faithful_rewrite():
    good = "The chef slices a red ball of dough on the wooden table."
    outcome = guarded_rewrite(ORIGINAL, "fallback", FakeBackend({ORIGINAL: good}))
    assert outcome.accepted and outcome.text == good and outcome.retention == 1.0


def test_guard_rejects_a_rewrite_that_drops_content():
    lossy = "The chef slices dough on the table."
    outcome = guarded_rewrite(ORIGINAL, "fallback", FakeBackend({ORIGINAL: lossy}))
    assert outcome.verdict == "rejected-fidelity" and outcome.text == "fallback"
    assert "red" in outcome.detail and "ball" in outcome.detail
    assert outcome.retention < 0.9


def test_guard_rejects_a_rewrite_that_still_leaks_and_survives_errors():
    leaky = "The young chef slices a red ball of dough on the wooden table."
    assert guarded_rewrite(ORIGINAL, "fb", FakeBackend({ORIGINAL: leaky})).verdict == "rejected-leak"
    failing = FakeBackend({ORIGINAL: RuntimeError("HTTP 500")})
    outcome = guarded_rewrite(ORIGINAL, "fb", failing)
    assert (outcome.verdict, outcome.text) == ("error", "fb")


def test_content_words_ignore_people_and_biometrics():
    assert content_words("A young woman holds two red balls.") == {"hold", "two", "red", "ball"}
    assert retention("A young woman holds two red balls.", "A person holds two red balls.") == 1.0


def test_clean_with_llm_rewrites_only_what_the_rules_left(tmp_path):
    records = [
        {"id": "1", "conversations": [{"from": "gpt", "value": ORIGINAL}]},
        {"id": "2", "conversations": [{"from": "gpt", "value": "The waiter looks young while carrying three blue cups."}]},
        {"id": "3", "conversations": [{"from": "gpt", "value": "A young woman holds a kite."}]},
    ]
    rule_version_2 = "The waiter looks young while carrying three blue cups."
    backend = FakeBackend({
        ORIGINAL: "The chef slices a red ball of dough on the wooden table.",
        rule_version_2: "The waiter carries cups.",  # drops "three blue": must be rejected
    })
    src = write_json(tmp_path / "in.json", records)
    stats = clean_file(src, str(tmp_path / "out.json"), llm=backend, changes_path=str(tmp_path / "c.jsonl"), progress=False)
    out = read_records(tmp_path / "out.json")
    assert answers(out[0]) == ["The chef slices a red ball of dough on the wooden table."]
    assert answers(out[1]) == [rule_version_2]  # the rule-based version is kept
    assert answers(out[2]) == ["A person holds a kite."]  # rules sufficed: no LLM call
    assert len(backend.asked) == 2
    summary = stats.to_json()["llm"]
    assert summary["verdicts"] == {"accepted": 1, "rejected-fidelity": 1}
    assert summary["mean_retention_accepted"] == 1.0 and summary["mean_retention_rejected"] < 0.9
    assert stats.to_json()["residual"]["records"]["age"] == 1
    logged = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert [c["llm"]["verdict"] for c in logged if "llm" in c] == ["accepted", "rejected-fidelity"]
