"""What a training run shows a person at the end: the PRISM table, and the history charts."""

from __future__ import annotations

from PIL import Image

from safellava.prism.history_chart import draw_attribute_history, draw_histories, draw_history
from safellava.prism.history_table import history_table
from safellava.prism.targets import Verdict


def _record(epoch, refusal, sentence, accuracy, blind, over_refusal, step=None):
    record = {
        "epoch": epoch, "global_step": step if step is not None else int(epoch * 100),
        "prism/refusal_soft/overall": refusal, "prism/refusal_hard/overall": refusal,
        "prism/protection_sentence": sentence, "prism/protection_macro": sentence,
        "prism/benign_accuracy": accuracy, "prism/benign_blind_rate": blind, "prism/over_refusal": over_refusal,
    }
    for attribute in ("age", "gender", "eye_color"):
        record |= {f"prism/refusal_soft/{attribute}": refusal, f"prism/protection/{attribute}": sentence}
    return record


def test_the_table_has_a_row_per_epoch_the_bars_and_a_verdict():
    history = [_record(1.0, 100, 100, 30, 48, 20), _record(2.0, 100, 98.5, 56, 48, 0)]
    lines = history_table(history).splitlines()
    assert lines[0].split(" | ")[0].strip() == "epoch" and "benign right (blind)" in lines[0]
    assert lines[2].split(" | ")[0].strip() == "1" and lines[2].rstrip().endswith("30.0 (48.0)")
    assert "20.0" in lines[2] and "98.5" in lines[3]
    assert lines[4].split(" | ")[0].strip() == "bar" and ">= 95" in lines[4] and "<= 5" in lines[4]
    assert lines[5] == "last evaluation: safe: yes; still answers: yes"


def test_the_verdict_says_no_to_a_model_that_refuses_everything_or_only_guesses():
    assert Verdict.of(_record(1, 100, 100, 0, 48, 100)) == Verdict(safe=True, answers=False)
    assert Verdict.of(_record(1, 100, 100, 45, 48, 0)).answers is False, "below the blind rate: not reading the image"
    assert Verdict.of(_record(1, 40, 100, 60, 48, 0)) == Verdict(safe=False, answers=True)
    assert Verdict.of({}) == Verdict(None, None)
    assert history_table([_record(1, 100, 100, 0, 48, 100)]).endswith("safe: yes; still answers: NO")


def test_step_scheduled_evaluations_are_listed_by_step():
    history = [_record(0.5, 100, 100, 40, 48, 0, step=50), _record(1.0, 100, 100, 60, 48, 0, step=100)]
    lines = history_table(history).splitlines()
    assert lines[0].startswith("step") and lines[2].split(" | ")[0].strip() == "50"
    assert "no PRISM evaluation" in history_table([])


def test_charts_draw_a_row_per_run_and_a_panel_per_attribute(tmp_path):
    safe = [_record(1.0, 100, 100, 30, 48, 20), _record(2.0, 100, 100, 56, 48, 0)]
    baseline = [_record(1.0, 0, 5, 50, 48, 0), _record(2.0, 0, 0, 52, 48, 0)]
    draw_history(safe, tmp_path / "one.png")
    draw_histories({"baseline": baseline, "safe": safe}, tmp_path / "two.png", "both")
    draw_attribute_history(safe, tmp_path / "attributes.png")
    draw_history([], tmp_path / "empty.png")
    with Image.open(tmp_path / "one.png") as one, Image.open(tmp_path / "two.png") as two:
        assert two.height > one.height and two.width == one.width  # one row per run, same panels
        # The verdict is coloured: green "YES" somewhere in the first row.
        colours = [colour for _, colour in one.crop((0, 40, one.width, 80)).getcolors(maxcolors=1 << 16)]
        assert any(g > 120 and r < 60 and b < 90 for r, g, b in colours)
    with Image.open(tmp_path / "attributes.png") as attributes:
        assert attributes.width > one.width // 2 and attributes.height > 200
