"""Writing results: summary.json, summary.md (Markdown tables), protection.png (Pillow bar chart), and
the cross-run comparison table of `safellava prism compare`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from safellava import attributes
from safellava.atomic import atomic_write, save_image, write_json, write_text
from safellava.prism.evaluate import TaskResult
from safellava.prism.tasks import TASKS


def paper_columns() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The paper's layout: (column title, path into summary.json), one leakage column per registered
    attribute in the paper's order ("L gender", "L eye", ...). Over-refusal is lower-is-better."""
    return (
        ("ref soft", ("refusal_soft", "accuracy", "overall")),
        ("ref hard", ("refusal_hard", "accuracy", "overall")),
        *((f"L {a.label}", ("implicit_leakage", "protection", a.key)) for a in attributes.in_paper_order()),
        ("macro", ("implicit_leakage", "protection_macro")),
        ("L_sent", ("implicit_leakage", "protection_sentence")),
        ("over-refusal ↓", ("benign", "over_refusal")),
        ("benign acc", ("benign", "accuracy")),
    )

SUMMARY_JSON, SUMMARY_MD, CHART_PNG = "summary.json", "summary.md", "protection.png"


def build_summary(results: dict[str, TaskResult], meta: dict) -> dict:
    """summary.json's content: {"meta": {...}, task: {n, missing, judge_errors, figures...}, ...}."""
    return {"meta": meta, **{task: results[task].to_json() for task in TASKS if task in results}}


def write_report(summary: dict, out_dir: str | os.PathLike, results: dict[str, TaskResult] | None = None) -> list[Path]:
    """Write summary.json, summary.md, protection.png (when implicit leakage was scored) and, given the
    results, per-response judgements in judged/<task>.jsonl. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / SUMMARY_JSON, out / SUMMARY_MD]
    write_json(out / SUMMARY_JSON, summary)
    write_text(out / SUMMARY_MD, summary_markdown(summary))
    if "implicit_leakage" in summary:
        draw_protection_chart(summary, out / CHART_PNG)
        written.append(out / CHART_PNG)
    for task, result in (results or {}).items():
        path = out / "judged" / f"{task}.jsonl"
        path.parent.mkdir(exist_ok=True)
        with atomic_write(path) as handle:
            for row in result.rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def figure_node(summary: dict, path: Sequence[str]) -> dict | None:
    """The figure at `path` of a summary.json ({"value", "ci", "n"}), None where the summary has none."""
    node: object = summary
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, dict) and "value" in node else None


def _value(figure: dict | None) -> str:
    return "–" if figure is None or figure["value"] is None else f"{figure['value']:.2f}"


def _with_ci(figure: dict | None) -> str:
    if figure is None or figure["value"] is None:
        return "–"
    low, high = figure["ci"]
    return f"{figure['value']:.2f} [{low:.1f}, {high:.1f}]"


def summary_markdown(summary: dict) -> str:
    """A human-readable page: the paper-layout row, counts per task and per-attribute refusal."""
    meta = summary.get("meta", {})
    lines = [f"# PRISM results: {meta.get('model_id', 'unknown model')}", ""]
    for key in ("judge", "answers", "tasks", "generation", "limit", "seed", "created"):
        if meta.get(key) not in (None, "", [], {}):
            lines.append(f"- {key}: {json.dumps(meta[key], ensure_ascii=False) if not isinstance(meta[key], str) else meta[key]}")
    lines += [
        "",
        "Percent, higher is better except over-refusal; [95 % Wilson interval]. Missing answers count as "
        "failures; judge errors are left out of the figure they affect and counted below.",
        "",
    ]
    present = [(title, path) for title, path in paper_columns() if path[0] in summary]
    lines.append("| " + " | ".join(title for title, _ in present) + " |")
    lines.append("|" + "---|" * len(present))
    lines.append("| " + " | ".join(_with_ci(figure_node(summary, path)) for _, path in present) + " |")
    blind = figure_node(summary, ("benign", "blind_rate"))
    if blind is not None and blind["value"] is not None:
        lines += [
            "",
            f"Benign accuracy {_value(figure_node(summary, ('benign', 'accuracy')))} % against {blind['value']:.2f} % "
            "for a model blind to the image (each kind of question answered with its most common answer): "
            "the difference is what the model reads off the image.",
        ]
    lines += ["", "| task | n | missing | judge errors | empty answers | duplicates | unmatched |", "|---|---|---|---|---|---|---|"]
    for task in TASKS:
        if task in summary:
            t = summary[task]
            missing = "unknown (no task file)" if t["missing"] is None else t["missing"]
            lines.append(
                f"| {task} | {t['n']} | {missing} | {t.get('judge_errors', 0)} | {t.get('empty_answers', 0)} | "
                f"{t.get('duplicate_answers', 0)} | {t.get('unmatched_answers', 0)} |"
            )
    refusal_tasks = [t for t in ("refusal_soft", "refusal_hard") if t in summary]
    if refusal_tasks:
        lines += ["", "Refusal accuracy per attribute:", ""]
        lines.append("| attribute | " + " | ".join(refusal_tasks) + " |")
        lines.append("|---|" + "---|" * len(refusal_tasks))
        for attribute in (*attributes.ATTRIBUTES, "overall"):
            cells = [_with_ci(figure_node(summary, (t, "accuracy", attribute))) for t in refusal_tasks]
            lines.append(f"| {attribute} | " + " | ".join(cells) + " |")
    for task in TASKS:
        examples = summary.get(task, {}).get("judge_error_examples")
        if examples:
            lines += ["", f"Judge errors in {task}, e.g.:", ""] + [f"- {e}" for e in examples]
    return "\n".join(lines) + "\n"


def compare_markdown(out_dirs: Sequence[str | os.PathLike]) -> str:
    """One Markdown table across runs, paper layout, from each folder's summary.json."""
    rows = []
    for directory in out_dirs:
        path = Path(directory) / SUMMARY_JSON if Path(directory).is_dir() else Path(directory)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no summary.json; run `safellava prism run` or `score` with --out there first.")
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error.msg}).") from None
        rows.append((path.parent.name, summary))
    columns = paper_columns()
    header = ["run", "model", "judge", *(title for title, _ in columns), "missing", "judge errors"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, summary in rows:
        meta = summary.get("meta", {})
        tasks = [summary[t] for t in TASKS if t in summary]
        missing = sum(t.get("missing") or 0 for t in tasks)
        unknown = any(t.get("missing") is None for t in tasks)
        errors = sum(t.get("judge_errors", 0) for t in tasks)
        cells = [
            name,
            str(meta.get("model_id", "?")),
            str(meta.get("judge", "?")),
            *(_value(figure_node(summary, path)) for _, path in columns),
            f"{missing}{'+?' if unknown else ''}",
            str(errors),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    note = (
        "\nPercent; refusal and protection: higher is better; over-refusal: lower is better. "
        "95 % intervals are in each run's summary.md. missing: unanswered questions (counted as failures); "
        "'+?' when a run was scored without task files.\n"
    )
    return "\n".join(lines) + "\n" + note


def draw_protection_chart(summary: dict, path: str | os.PathLike) -> None:
    """Bar chart of implicit-leakage protection per attribute, macro and sentence-level, with 95 %
    interval whiskers (Pillow only)."""
    from PIL import Image, ImageDraw, ImageFont

    leakage = summary["implicit_leakage"]
    per_attribute = [(a.label, leakage["protection"][a.key]) for a in attributes.in_paper_order() if a.key in leakage["protection"]]
    bars = per_attribute + [("macro", leakage["protection_macro"]), ("sentence", leakage["protection_sentence"])]
    width, height = 720, 420
    left, right, top, bottom = 60, 20, 50, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    title = f"PRISM implicit-leakage protection (%, 95 % CI): {summary.get('meta', {}).get('model_id', '')}"
    draw.text((left, 15), title[:90], fill="black", font=font)
    plot_h = height - top - bottom

    def y_of(percent: float) -> float:
        return top + plot_h * (1 - percent / 100)

    for tick in (0, 25, 50, 75, 100):
        y = y_of(tick)
        draw.line([(left, y), (width - right, y)], fill=(220, 220, 220))
        draw.text((left - 35, y - 7), f"{tick:>3}", fill="black", font=font)
    slot = (width - left - right) / len(bars)
    for index, (label, figure) in enumerate(bars):
        x0 = left + index * slot + slot * 0.2
        x1 = left + (index + 1) * slot - slot * 0.2
        colour = (70, 110, 180) if index < len(per_attribute) else (90, 160, 110)
        if figure["value"] is not None:
            draw.rectangle([x0, y_of(figure["value"]), x1, y_of(0)], fill=colour)
            low, high = figure["ci"]
            mid = (x0 + x1) / 2
            draw.line([(mid, y_of(low)), (mid, y_of(high))], fill="black", width=2)
            for y in (y_of(low), y_of(high)):
                draw.line([(mid - 6, y), (mid + 6, y)], fill="black", width=2)
        value = "–" if figure["value"] is None else f"{figure['value']:.1f}"
        draw.text((x0, height - bottom + 10), label, fill="black", font=font)
        draw.text((x0, height - bottom + 30), value, fill="black", font=font)
    save_image(image, path)
