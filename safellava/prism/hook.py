"""PRISM during training: evaluate the model being trained every N epochs (and every N steps) and log the figures.

Three pieces, each doing one thing:
- `PrismHookConfig` — the `prism:` section of a run config;
- `PrismEvaluator` — runs PRISM on the live model (all ranks take part; generation is sharded; the
  judging and scoring happen on rank 0 and the figures are broadcast), with the RNG state and training
  mode restored afterwards and failures isolated;
- `PrismCallback` — a `TrainerCallback` that schedules the evaluations (every `every_n_epochs` epochs and,
  with `every_n_steps`, every N optimizer steps as well: a short run such as a patch may end before its
  first epoch does) and, after each one, writes the cumulative history (`prism/history.jsonl`,
  `prism/history.png`) and a wandb table of sample responses.

`prism.stop_when` (`safellava.prism.stop_when`) ends the run at the first evaluation that meets its targets.

safellava's trainer runs the evaluator as its `evaluate()`, so Trainer's own machinery applies: the figures
are logged at the current global step to every tracker, `metric_for_best_model: prism/protection_macro`
picks the best checkpoint, and `EarlyStoppingCallback` can stop on any `prism/…` figure.
"""

from __future__ import annotations

import json
import logging
import random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from safellava.config import Range, setting
from safellava.errors import UserError
from safellava.prism.judges import JUDGE_KINDS
from safellava.prism.stop_when import StopWhen, prism_figures

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.jsonl"
HISTORY_CHART = "history.png"
ATTRIBUTE_CHART = "history_attributes.png"


class PrismHookError(UserError, ValueError):
    """The PRISM hook points at files that are missing."""


@dataclass
class PrismHookConfig:
    """The `prism:` section of a run config, read by the typed configuration layer (`safellava.config`)."""

    tasks: list[str] = setting(non_empty=True)  # PRISM task files or folders (incl. a benign set)
    images: str = setting(non_empty=True)  # image root; images are found by basename
    every_n_epochs: int = setting(1, range=Range(at_least=1))
    every_n_steps: int | None = setting(None, range=Range(at_least=1))  # also every N optimizer steps
    limit: int | None = setting(20, range=Range(at_least=1))  # questions per task, the same seeded subset (null = all)
    seed: int = 0
    judge: str = setting("lexicon", choices=JUDGE_KINDS)
    judge_options: dict[str, Any] = field(default_factory=dict)  # passed to build_judge (model, base_url…)
    max_new_tokens: int = setting(64, range=Range(at_least=1))
    batch_size: int = setting(16, range=Range(at_least=1))
    first_line: bool = False
    strict: bool = False  # a failed evaluation stops training instead of being logged and counted
    table_rows: int = setting(16, range=Range(at_least=0))  # sample responses per task in the wandb table
    stop_when: StopWhen | None = None  # stop training at the first evaluation that meets these targets


def summary_figures(summary: dict[str, Any]) -> dict[str, float]:
    """summary.json → flat `prism/...` figures in percent (the keys trackers show)."""
    figures: dict[str, float] = {}
    for task in ("refusal_soft", "refusal_hard"):
        for attribute, figure in summary.get(task, {}).get("accuracy", {}).items():
            figures[f"prism/{task}/{attribute}"] = figure["value"]
    leakage = summary.get("implicit_leakage", {})
    for attribute, figure in leakage.get("protection", {}).items():
        figures[f"prism/protection/{attribute}"] = figure["value"]
    for key in ("protection_macro", "protection_sentence"):
        if key in leakage:
            figures[f"prism/{key}"] = leakage[key]["value"]
    benign = summary.get("benign", {})
    if "over_refusal" in benign:
        figures["prism/over_refusal"] = benign["over_refusal"]["value"]
    if "accuracy" in benign:
        figures["prism/benign_accuracy"] = benign["accuracy"]["value"]
    if "blind_rate" in benign:
        figures["prism/benign_blind_rate"] = benign["blind_rate"]["value"]
    # A figure with no question in the subset has no value: leave it out rather than log a None.
    figures = {key: value for key, value in figures.items() if value is not None}
    tasks = [value for value in summary.values() if isinstance(value, dict) and "judge_errors" in value]
    figures["prism/judge_errors"] = float(sum(task["judge_errors"] for task in tasks))
    figures["prism/missing"] = float(sum(task.get("missing", 0) for task in tasks))
    judged = sum(task.get("n", 0) - task.get("missing", 0) for task in tasks)
    figures["prism/judged"] = float(judged)
    return figures


class PrismEvaluator:
    """Runs PRISM on a model during training. Build it once per run: tasks, subset and judge are fixed."""

    def __init__(self, config: PrismHookConfig, *, template: str, image_aspect: str, output_dir: str | Path):
        from safellava.prism.judges import build_judge
        from safellava.prism.tasks import load_tasks, sample_tasks

        missing = [path for path in config.tasks if not Path(path).exists()]
        if missing or not Path(config.images).is_dir():
            where = missing or [config.images]
            raise PrismHookError(
                f"PRISM hook: {where} not found; point `prism.tasks`/`prism.images` at PRISM files "
                f"(or a synthetic world's prism/ folder), or disable the hook with `prism=null`"
            )
        self.config = config
        self.template = template
        self.image_aspect = image_aspect
        self.root = Path(output_dir) / "prism"
        task_set = load_tasks(config.tasks)
        self.task_set = sample_tasks(task_set, config.limit, config.seed) if config.limit else task_set
        self.judge = build_judge(config.judge, **config.judge_options)
        self.failures = 0

    @property
    def questions(self) -> list:
        """Every question of the subset: the trainer's evaluation "dataset"."""
        return [question for questions in self.task_set.files.values() for question in questions]

    def evaluate(self, model, processor, state, args) -> dict[str, float]:
        """All ranks call this together; every rank returns the same figures."""
        from safellava.distributed import distributed_state

        started = time.monotonic()
        rng = _capture_rng()
        figures: dict[str, float] = {}
        error = None
        try:
            figures = self._run(model, processor, state, args) or {}
        except Exception as failure:  # noqa: BLE001 — isolation is the point; strict re-raises
            error = failure
            logger.error("PRISM hook failed at step %d:\n%s", state.global_step, traceback.format_exc())
        finally:
            _restore_rng(rng)
        figures = _broadcast(figures, distributed_state())
        if error is None and figures.get("prism/judged", 0) and figures["prism/judge_errors"] >= figures["prism/judged"]:
            error = RuntimeError(f"the {self.judge.name} judge failed on every response (is it reachable?)")
            logger.error("PRISM hook at step %d: %s", state.global_step, error)
        if error is not None:
            self.failures += 1
            if self.config.strict:
                raise RuntimeError(f"PRISM hook failed at step {state.global_step} (prism.strict is true)") from error
        figures["prism/failures"] = float(self.failures)
        figures["prism/seconds"] = round(time.monotonic() - started, 3)
        return figures

    def run_dir(self, state) -> Path:
        if self.config.every_n_steps is not None:
            return self.root / f"step-{state.global_step}"
        return self.root / f"epoch-{int(round(state.epoch or 0))}"

    def _run(self, model, processor, state, args) -> dict[str, float] | None:
        from safellava.prism.generate import GenerationSettings
        from safellava.prism.pipeline import run_prism

        settings = GenerationSettings(
            batch_size=self.config.batch_size, max_new_tokens=self.config.max_new_tokens, first_line=self.config.first_line
        )
        summary = run_prism(
            model,
            processor,
            self.task_set,
            self.config.images,
            self.run_dir(state),
            self.judge,
            model_id=f"{Path(args.output_dir).name}@step-{state.global_step}",
            template=self.template,
            image_aspect=self.image_aspect,
            settings=settings,
            meta={"global_step": state.global_step, "epoch": state.epoch},
            show_progress=False,
        )
        return summary_figures(summary) if summary is not None else None


def _capture_rng() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def _broadcast(figures: dict[str, float], distributed) -> dict[str, float]:
    """Rank 0 scored; every rank needs the same figures (best-checkpoint decisions must agree)."""
    if distributed.num_processes <= 1:
        return dict(figures)
    from accelerate.utils import broadcast_object_list

    payload = [figures if distributed.is_main_process else None]
    broadcast_object_list(payload, from_process=0)
    return dict(payload[0] or {})


class PrismCallback(TrainerCallback):
    """Schedules PRISM every N epochs and every N steps and, after each evaluation, writes the history and
    the sample table."""

    def __init__(self, evaluator: PrismEvaluator):
        self.evaluator = evaluator
        self.evaluated_at: int | None = None  # the step of the latest evaluation

    # The hook's schedule decides (it overrides Trainer's `eval_strategy` flag for these events).
    def on_epoch_end(self, args, state, control, **kwargs):
        epoch = int(round(state.epoch or 0))
        # An epoch that ends on a step the step schedule has just evaluated is not evaluated twice.
        due = epoch % self.evaluator.config.every_n_epochs == 0
        control.should_evaluate = due and self.evaluated_at != state.global_step
        return control

    def on_step_end(self, args, state, control, **kwargs):
        every = self.evaluator.config.every_n_steps
        if every is not None:
            control.should_evaluate = state.global_step % every == 0
        return control

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.evaluated_at = state.global_step
        if not state.is_world_process_zero or not metrics:
            return control
        figures = prism_figures(metrics)
        record = {"global_step": state.global_step, "epoch": state.epoch, **figures}
        root = self.evaluator.root
        root.mkdir(parents=True, exist_ok=True)
        with open(root / HISTORY_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        from safellava.prism.history_chart import draw_attribute_history, draw_history

        history = read_history(root)
        draw_history(history, root / HISTORY_CHART)
        draw_attribute_history(history, root / ATTRIBUTE_CHART)
        if "wandb" in (args.report_to or []):
            _log_wandb_charts(history, root)
            _log_wandb_table(self.evaluator, state)
        return control


def read_history(root: str | Path) -> list[dict[str, Any]]:
    path = Path(root) / HISTORY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _log_wandb_charts(history: list[dict[str, Any]], root: Path) -> None:
    """The history chart's two panels as wandb line plots (x: epoch) under `prism/privacy` and
    `prism/utility`, and the chart itself under `prism/history`: the plots to pin on a dashboard."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is None:
        return
    from safellava.prism.history_chart import PRIVACY_LINES, UTILITY_LINES, series_of

    charts: dict[str, Any] = {}
    for name, title, lines in (("privacy", "Privacy: higher is safer", PRIVACY_LINES),
                               ("utility", "Utility: does it still answer?", UTILITY_LINES)):
        drawn = [(line.label, series_of(history, line.key)) for line in lines]
        drawn = [(label, points) for label, points in drawn if points]
        if drawn:
            charts[f"prism/{name}"] = wandb.plot.line_series(
                xs=[[x for x, _ in points] for _, points in drawn],
                ys=[[y for _, y in points] for _, points in drawn],
                keys=[label for label, _ in drawn],
                title=title,
                xname="epoch",
            )
    charts["prism/history"] = wandb.Image(str(root / HISTORY_CHART))
    wandb.log(charts, commit=False)


def _log_wandb_table(evaluator: PrismEvaluator, state) -> None:
    """A table of sample responses with their judge labels, one per evaluation."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is None:
        return
    rows = []
    for judged in sorted((evaluator.run_dir(state) / "judged").glob("*.jsonl")):
        lines = judged.read_text(encoding="utf-8").splitlines()[: evaluator.config.table_rows]
        for line in lines:
            row = json.loads(line)
            rows.append([judged.stem, row.get("question_id"), row.get("prompt"), row.get("response"), json.dumps(
                {k: v for k, v in row.items() if k not in ("question_id", "prompt", "response")})])
    if rows:
        table = wandb.Table(columns=["task", "question_id", "prompt", "response", "judgement"], data=rows)
        wandb.log({"prism/samples": table}, commit=False)
