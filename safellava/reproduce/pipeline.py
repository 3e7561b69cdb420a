"""The reproduction, step by step: world → audit/clean → baseline and safe trained → the baseline patched →
all three evaluated → compared."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from safellava.atomic import write_text
from safellava.errors import UserError
from safellava.reproduce.charts import draw_comparison_chart, draw_curves
from safellava.reproduce.plan import RETRAINED, VARIANTS, Layout, Plan
from safellava.reproduce.report import read_history, write_report
from safellava.reproduce.stamps import finished_model, read_stamp, stage_stamp, trained_steps, write_seconds, write_stamp
from safellava.reproduce.steps import REPO_ROOT, Job, StepFailed, Steps

RECIPES = REPO_ROOT / "configs" / "recipes"
MODEL_RECIPES = REPO_ROOT / "configs" / "models"
RESULT_FILE = "result.json"


def model_recipe_file(recipe_yaml: Path, overrides: Sequence[str]) -> Path | None:
    """The model recipe a run config uses (after `model=` overrides), when it names one in configs/models."""
    from safellava.config import read_yaml_file

    model = (read_yaml_file(recipe_yaml) or {}).get("model")
    for override in overrides:
        if override.startswith("model="):
            model = override.split("=", 1)[1]
    if isinstance(model, dict):  # {recipe: small, ...} extends a recipe
        model = model.get("recipe")
    if isinstance(model, str):
        path = Path(model) if model.endswith((".yaml", ".yml")) else MODEL_RECIPES / f"{model}.yaml"
        return path if path.is_file() else None
    return None


def make_world(steps: Steps, layout: Layout, plan: Plan, seed: int) -> None:
    steps.cli(
        "1-world",
        [
            "synth", "generate", "--out", str(layout.world), "--seed", str(seed),
            "--train-images", str(plan.train_images), "--eval-images", str(plan.eval_images),
            "--benign-per-image", str(plan.benign_per_image),
        ],
    )  # fmt: skip


def audit_and_clean(steps: Steps, layout: Layout) -> None:
    layout.audit.mkdir(parents=True, exist_ok=True)
    layout.data.mkdir(parents=True, exist_ok=True)
    raw = [str(layout.raw_file(stage)) for stage in ("pretrain", "finetune")]
    safe = [str(layout.safe_file(stage)) for stage in ("pretrain", "finetune")]
    steps.cli("2-audit-raw", ["audit", *raw, "--json", str(layout.audit / "raw.json"), "--no-progress"])
    for stage in ("pretrain", "finetune"):
        steps.cli(
            f"2-clean-{stage}",
            [
                "clean", str(layout.raw_file(stage)), str(layout.safe_file(stage)),
                "--stats", str(layout.data / f"clean-{stage}.stats.json"),
                "--changes", str(layout.data / f"clean-{stage}.changes.jsonl"), "--no-progress",
            ],
        )  # fmt: skip
    steps.cli("2-audit-safe", ["audit", *safe, "--json", str(layout.audit / "safe.json"), "--no-progress"])


def stage_job(layout: Layout, plan: Plan, variant: str, stage: str) -> tuple[Job, list[Path]]:
    """The command line of one training stage of one variant, and the files it reads (for its stamp).
    Only the data, the output folder and (stage 2) the stage-1 model differ between the retrained variants;
    the patch starts from the baseline's stage-2 model and reads the raw stage-2 data (cleaning them as it
    loads them)."""
    out = layout.model(variant, stage)
    recipe = RECIPES / f"reproduce-{stage}.yaml"
    data = layout.raw_file("finetune") if stage == "patch" else layout.train_file(variant, stage)
    overrides = [
        f"data.files=[{data}]",
        f"data.image_folder={layout.world / 'images'}",
        f"training.output_dir={out}",
    ]
    if stage != "pretrain":
        start = layout.model("baseline", "finetune") if stage == "patch" else layout.model(variant, "pretrain")
        overrides += [
            f"init_from={start}",
            f"prism.tasks=[{layout.world / 'prism'}]",
            f"prism.images={layout.world / 'images' / 'eval'}",
        ]
    overrides += list({"pretrain": plan.pretrain_overrides, "finetune": plan.finetune_overrides,
                       "patch": plan.patch_overrides}[stage])
    if stage == "patch":
        overrides += _benign_floor(layout)
    argv = [sys.executable, str(REPO_ROOT / "train" / f"{stage}.py"), "--config", str(recipe), *overrides]
    inputs = [data, recipe]
    model_recipe = model_recipe_file(recipe, overrides)
    if model_recipe is not None:
        inputs.append(model_recipe)
    return Job(f"{3 if stage == 'pretrain' else 4}-{variant}-{stage}", argv), inputs


def _benign_floor(layout: Layout) -> list[str]:
    """The patch stops early once PRISM's targets are met with benign accuracy no more than 2 points below the
    baseline's at the end of its training (the hook's subset of questions is the same in both runs)."""
    history = read_history(layout.model("baseline", "finetune") / "prism" / "history.jsonl")
    benign = history[-1].get("prism/benign_accuracy") if history else None
    return [] if benign is None else [f"prism.stop_when.benign_accuracy_min={max(0.0, round(benign - 2, 2))}"]


def train_together(
    steps: Steps, layout: Layout, plan: Plan, stage: str, parents: dict[str, dict[str, Any] | None], force: bool
) -> dict[str, dict[str, Any]]:
    """One stage of each variant in `parents` side by side; returns each one's stamp. A stage whose finished
    model carries the same stamp (command, recipes, data, starting model) is reused."""
    pending, stamps = [], {}
    for variant, parent in parents.items():
        job, inputs = stage_job(layout, plan, variant, stage)
        stamps[variant] = stage_stamp(job.argv, inputs, parent)
        out = layout.model(variant, stage)
        if not force and finished_model(out) and read_stamp(out) == stamps[variant]:
            steps.say(f"{job.name}: reusing the finished model in {out} (same command, recipes, data)")
            continue
        shutil.rmtree(out, ignore_errors=True)  # a stale or half-written run must not leak into this one
        pending.append((variant, job))
    steps.run_together([job for _, job in pending])
    for variant, job in pending:
        out = layout.model(variant, stage)
        if not finished_model(out):
            raise StepFailed(f"step {job.name!r} exited cleanly but wrote no final model to {out}")
        write_stamp(out, stamps[variant])
        write_seconds(out, steps.timings[job.name])
    return stamps


def train_all(steps: Steps, layout: Layout, plan: Plan, force: bool) -> dict[str, dict[str, Any]]:
    """Stage 1 of the baseline and safe side by side, then stage 2 of both, then the baseline's final model
    patched; returns each final model's stamp."""
    stamps: dict[str, dict[str, Any] | None] = {variant: None for variant in RETRAINED}
    for stage in ("pretrain", "finetune"):
        stamps = train_together(steps, layout, plan, stage, stamps, force)
    return {**stamps, **train_together(steps, layout, plan, "patch", {"patched": stamps["baseline"]}, force)}


def evaluate_all(steps: Steps, layout: Layout, plan: Plan, model_stamps: dict[str, dict[str, Any]], force: bool) -> None:
    """`safellava prism run` on every final model, side by side, on all the world's PRISM questions."""
    pending = []
    for variant in VARIANTS:
        out = layout.prism(variant)
        argv = [
            sys.executable, "-m", "safellava.cli", "prism", "run",
            "--model", str(layout.final_model(variant)), "--model-id", variant,
            "--tasks", str(layout.world / "prism"), "--images", str(layout.world / "images" / "eval"),
            "--out", str(out), "--max-new-tokens", str(plan.max_new_tokens), "--batch-size", str(plan.batch_size),
            "--judge", "lexicon",
        ]  # fmt: skip
        stamp = stage_stamp(argv, [], model_stamps[variant])
        name = f"5-{variant}-prism"
        if not force and (out / "summary.json").is_file() and read_stamp(out) == stamp:
            steps.say(f"{name}: reusing the finished evaluation in {out}")
            continue
        if read_stamp(out) != stamp:
            shutil.rmtree(out, ignore_errors=True)  # answers of another model must not be resumed
        pending.append((out, stamp, Job(name, argv)))
    steps.run_together([job for _, _, job in pending])
    for out, stamp, _ in pending:
        write_stamp(out, stamp)


def reproduce(out: Path, plan: Plan, *, seed: int = 0, force: bool = False, verbose: bool = False) -> dict[str, Any]:
    """Run the whole reproduction into `out`; returns {"baseline": summary, "safe": summary, "patched": summary,
    "steps": {"safe_finetune": n, "patch": m}, "seconds": s}."""
    started = time.monotonic()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder; give a folder (it is created if missing)")
    layout = Layout(out.resolve())
    layout.root.mkdir(parents=True, exist_ok=True)
    steps = Steps(layout, verbose=verbose, env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                                                "WANDB_MODE": os.environ.get("WANDB_MODE", "offline"),
                                                "TOKENIZERS_PARALLELISM": "false"})  # fmt: skip
    steps.say(f"{plan.name} reproduction into {layout.root}")
    make_world(steps, layout, plan, seed)
    audit_and_clean(steps, layout)
    stamps = train_all(steps, layout, plan, force)
    evaluate_all(steps, layout, plan, stamps, force)
    steps.cli("6-compare", ["prism", "compare", *(str(layout.prism(v)) for v in VARIANTS), "--out", str(layout.comparison)])
    summaries = {variant: json.loads((layout.prism(variant) / "summary.json").read_text(encoding="utf-8")) for variant in VARIANTS}
    histories = {variant: read_history(layout.final_model(variant) / "prism" / "history.jsonl") for variant in VARIANTS}
    draw_comparison_chart(summaries, layout.root / "comparison.png")
    draw_curves(histories, layout.root / "curves.png")
    seconds = round(time.monotonic() - started, 1)
    trained = {"safe_finetune": layout.model("safe", "finetune"), "patch": layout.model("patched", "patch")}
    result = {**summaries, "steps": {name: trained_steps(folder) for name, folder in trained.items()}, "seconds": seconds}
    write_report(layout, plan, result, histories, steps.timings, seconds)
    write_text(layout.root / RESULT_FILE, json.dumps(result) + "\n")
    return result

