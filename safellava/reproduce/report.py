"""report.md: the comparison table, the targets, the patch's cost against the retrain's, benign accuracy per
kind, the audits, the per-evaluation figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safellava.atomic import write_text
from safellava.reproduce.attributes import attribute_reading
from safellava.reproduce.charts import CURVES
from safellava.reproduce.plan import VARIANTS, Layout, Plan
from safellava.reproduce.stamps import read_seconds
from safellava.reproduce.targets import (
    BENIGN_OPTIONS,
    benign_blind_rate,
    benign_by_kind,
    benign_chance,
    benign_kinds,
    check_targets,
    targets_markdown,
)


def read_history(path: Path) -> list[dict[str, Any]]:
    """The PRISM epoch hook's history (one JSON object per evaluation); empty if the hook never ran."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def targets_for(layout: Layout, result: dict) -> list[tuple[str, float | None, bool]]:
    """The targets checked against this reproduction's result (its JSON line) and its benign set's chance rate."""
    return check_targets(result, benign_chance(benign_kinds(layout.benign_file)))


def write_report(layout: Layout, plan: Plan, result: dict, histories: dict, timings: dict, seconds: float) -> None:
    """report.md: the comparison table, the targets, the patch's cost next to the safe retrain's, benign
    accuracy per question kind, whether the models read the person's attributes, the audits, the figures of
    the PRISM hook during training and step timings."""
    kinds = benign_kinds(layout.benign_file)
    chance = benign_chance(kinds)
    lines = [
        f"# Reproduction ({plan.name}): baseline vs Safe retraining vs the baseline patched, on the synthetic world",
        "",
        layout.comparison.read_text(encoding="utf-8"),
        "## Targets (lexicon judge)",
        "",
        targets_markdown(targets_for(layout, result)),
        f"Benign chance accuracy (uniform guess among each question's possible answers): {chance:.2f} %; "
        f"a model blind to the image that gives each kind's most common answer: "
        f"{benign_blind_rate(layout.benign_file):.2f} %.",
        "",
        *_cost_section(layout, result["steps"]),
        *_benign_section(layout, kinds),
        *_attribute_section(layout),
        *_audit_section(layout),
        "## PRISM during training (the hook's subset)",
        "",
        *_history_table(histories),
        "",
        "## Step timings (seconds)",
        "",
        "| step | s |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in timings.items()),
        "",
        f"Total wall time: {seconds:.0f} s.",
        "",
    ]
    write_text(layout.root / "report.md", "\n".join(lines))


def _cost_section(layout: Layout, steps: dict[str, int | None]) -> list[str]:
    """What making the model safe cost: the safe retrain's stage 2 (after its own stage 1) against the patch."""
    rows = [("safe retrain, stage 2 (`train/finetune.py`)", steps.get("safe_finetune"), layout.model("safe", "finetune")),
            ("patch of the baseline (`train/patch.py`)", steps.get("patch"), layout.model("patched", "patch"))]
    lines = ["## Cost: the patch next to the Safe retrain", "",
             "Optimizer steps, and the wall time of the training job (side by side with another job where it ran so).", "",
             "| training | optimizer steps | seconds |", "|---|---:|---:|"]
    for name, count, folder in rows:
        lines.append(f"| {name} | {_cell(count)} | {_cell(read_seconds(folder))} |")
    return lines + [""]


def _benign_section(layout: Layout, kinds: dict[str, str]) -> list[str]:
    tables = {variant: benign_by_kind(layout.prism(variant) / "judged" / "benign.jsonl", kinds) for variant in VARIANTS}
    lines = [
        "## Benign control accuracy per question kind (correct / questions; chance)",
        "",
        "| kind | chance | " + " | ".join(VARIANTS) + " |",
        "|---|---:|" + "---:|" * len(VARIANTS),
    ]
    for kind in sorted({kind for table in tables.values() for kind in table}):
        cells = [_ratio(*tables[variant].get(kind, (0, 0))) for variant in VARIANTS]
        lines.append(f"| {kind} | {100 / BENIGN_OPTIONS[kind]:.0f} % | " + " | ".join(cells) + " |")
    return lines + [""]


def _attribute_section(layout: Layout) -> list[str]:
    readings = {
        variant: attribute_reading(layout.prism(variant) / "answers" / "synth_PRISM_refusal_soft.jsonl", layout.manifest)
        for variant in VARIANTS
    }
    lines = [
        "## Do the models read the person's attributes? (soft refusal answers vs the world's ground truth)",
        "",
        "Right / questions; 'most common': always naming the attribute's most common value on these images.",
        "",
        "| attribute | most common | " + " | ".join(VARIANTS) + " |",
        "|---|---:|" + "---:|" * len(VARIANTS),
    ]
    for attribute, first in readings[VARIANTS[0]].items():
        cells = [_ratio(readings[v][attribute].correct, readings[v][attribute].questions) for v in VARIANTS]
        lines.append(f"| {attribute} | {first.majority:.0f} % | " + " | ".join(cells) + " |")
    return lines + [""]


def _audit_section(layout: Layout) -> list[str]:
    audit = {name: json.loads((layout.audit / f"{name}.json").read_text(encoding="utf-8")) for name in ("raw", "safe")}
    attributes = list(audit["raw"]["answers"])
    lines = [
        "## Audit of the training data (records whose answers mention the attribute)",
        "",
        "| data | records | " + " | ".join(attributes) + " |",
        "|---|---:|" + "---:|" * len(attributes),
    ]
    for name in ("raw", "safe"):
        counts = audit[name]["answers"]
        lines.append(f"| {name} | {audit[name]['records']} | " + " | ".join(str(counts[a]) for a in attributes) + " |")
    return lines + [""]


def _ratio(correct: int, total: int) -> str:
    return "–" if not total else f"{correct}/{total} ({100 * correct / total:.0f} %)"


def _history_table(histories: dict[str, list[dict]]) -> list[str]:
    lines = ["| run | epoch | step | " + " | ".join(title for title, _ in CURVES) + " |", "|---|---:|---:|" + "---:|" * len(CURVES)]
    for variant, history in histories.items():
        for record in history:
            cells = [_cell(record.get(key)) for _, key in CURVES]
            lines.append(f"| {variant} | {_cell(record.get('epoch'))} | {record.get('global_step')} | " + " | ".join(cells) + " |")
    return lines


def _cell(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


