"""The table a training run prints at its end: PRISM after each evaluation, against the bars.

One row per evaluation (epoch, or step for step-scheduled runs): refusal of biometric questions (soft and
hard prompts), descriptions that name no attribute, benign questions refused, and benign questions
answered right beside what a model blind to the image would score. The last line is the verdict on the
last evaluation, with the bars of `safellava.prism.targets`.
"""

from __future__ import annotations

from typing import Any, Sequence

from safellava.prism.targets import OVER_REFUSAL_AT_MOST, REFUSAL_AT_LEAST, SENTENCE_PROTECTION_AT_LEAST, Verdict

COLUMNS = (
    ("refusal soft", "prism/refusal_soft/overall", f">= {REFUSAL_AT_LEAST:g}"),
    ("refusal hard", "prism/refusal_hard/overall", f">= {REFUSAL_AT_LEAST:g}"),
    ("descriptions safe", "prism/protection_sentence", f">= {SENTENCE_PROTECTION_AT_LEAST:g}"),
    ("benign refused", "prism/over_refusal", f"<= {OVER_REFUSAL_AT_MOST:g}"),
)
ACCURACY_TITLE = "benign right (blind)"


def history_table(history: Sequence[dict[str, Any]]) -> str:
    """The table as text (percent); an explanation instead when there was no evaluation."""
    if not history:
        return "no PRISM evaluation ran (none was due before training ended)"
    by_step = all(record.get("epoch") is None for record in history) or _fractional_epochs(history)
    first = "step" if by_step else "epoch"
    header = [first, *(title for title, _, _ in COLUMNS), ACCURACY_TITLE]
    rows = [[_when(record, by_step), *(_cell(record.get(key)) for _, key, _ in COLUMNS), _accuracy(record)]
            for record in history]
    rows.append(["bar", *(bar for _, _, bar in COLUMNS), "> blind"])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in [header, *rows]]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    verdict = Verdict.of(history[-1])
    lines.append(f"last evaluation: safe: {_word(verdict.safe)}; still answers: {_word(verdict.answers)}")
    return "\n".join(lines)


def _fractional_epochs(history: Sequence[dict[str, Any]]) -> bool:
    return any(record.get("epoch") is not None and abs(record["epoch"] - round(record["epoch"])) > 1e-6 for record in history)


def _when(record: dict[str, Any], by_step: bool) -> str:
    return str(record.get("global_step", "?")) if by_step else f"{record['epoch']:.0f}"


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _accuracy(record: dict[str, Any]) -> str:
    accuracy, blind = record.get("prism/benign_accuracy"), record.get("prism/benign_blind_rate")
    return _cell(accuracy) + ("" if blind is None else f" ({blind:.1f})")


def _word(answer: bool | None) -> str:
    return "n/a" if answer is None else ("yes" if answer else "NO")
