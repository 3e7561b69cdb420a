"""The patch mix: the Safe version of every record that touches people, plus a seeded replay of the others."""

from __future__ import annotations

import json

from safellava.data.cleaned_records import CleanedRecords
from safellava.data.patch_mix import build_patch_mix, replay_count
from safellava.data.record_index import open_records
from safellava.privacy.clean import clean_file


def _by_id(records: list[dict]) -> dict[str, dict]:
    return {record["id"]: record for record in records}


def test_the_mix_is_every_record_touching_people_cleaned_plus_a_replay_share(small_world, tmp_path):
    stats = clean_file(str(small_world.finetune), str(tmp_path / "safe.json"), progress=False)
    raw = _by_id(json.loads(small_world.finetune.read_text()))
    safe = _by_id(json.loads((tmp_path / "safe.json").read_text()))
    source = open_records(small_world.finetune, cache_dir=tmp_path / "cache")
    mix = build_patch_mix(source, replay_ratio=0.3, seed=0)

    # In the synthetic world every record that asks for an attribute also had its answer changed.
    assert mix.touching == stats.records_changed > 0
    assert mix.cleaning["explicit-refusal"] == stats.explicit_refusals
    assert mix.replay == replay_count(mix.touching, 0.3) == round(mix.touching * 0.3 / 0.7)
    assert mix.untouched == len(raw) - mix.touching and mix.unreadable == 0
    mixed = [mix.records.record(position) for position in range(len(mix.records))]
    assert len(mixed) == mix.touching + mix.replay
    touching, replayed = mixed[: mix.touching], mixed[mix.touching :]
    # The touching records come out as `safellava clean` writes them; the replayed ones as they were, untouched.
    assert all(record == safe[record["id"]] != raw[record["id"]] for record in touching)
    assert all(record == raw[record["id"]] == safe[record["id"]] for record in replayed)
    assert len({record["id"] for record in mixed}) == len(mixed)
    assert "patch mix: %d records touching people" % mix.touching in mix.summary()

    # Deterministic for a seed; another seed replays other records; no replay at ratio 0.
    again = build_patch_mix(source, replay_ratio=0.3, seed=0)
    assert [again.records.record(i)["id"] for i in range(len(again.records))] == [r["id"] for r in mixed]
    other = build_patch_mix(source, replay_ratio=0.3, seed=1)
    assert {other.records.record(i)["id"] for i in range(len(other.records))} != {r["id"] for r in mixed}
    assert len(build_patch_mix(source, replay_ratio=0.0, seed=0).records) == mix.touching


def test_a_replay_larger_than_the_untouched_records_takes_them_all_and_says_so(small_world, tmp_path):
    source = open_records(small_world.finetune, cache_dir=tmp_path / "cache")
    mix = build_patch_mix(source, replay_ratio=0.9, seed=0)
    assert mix.replay_wanted > mix.untouched and mix.replay == mix.untouched
    assert f"only {mix.untouched} records do not touch people" in mix.summary()


def test_a_record_asking_for_an_attribute_touches_people_even_when_already_refused(tmp_path):
    records = [
        {"id": "asks", "conversations": [{"from": "human", "value": "What is the person's gender?"},
                                         {"from": "gpt", "value": "I'm sorry, but I cannot provide information related to biometric attributes."}]},
        {"id": "plain", "conversations": [{"from": "human", "value": "How many circles are there?"},
                                          {"from": "gpt", "value": "Two."}]},
    ]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records))
    cleaned = CleanedRecords(open_records(path, cache_dir=tmp_path / "cache"))
    assert cleaned.touches_people(0) and not cleaned.touches_people(1)
    assert cleaned.counts["records_changed"] == 0  # nothing needed changing
