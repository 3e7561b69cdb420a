"""End-to-end PRISM runs: generate + judge + score + report (`run_prism`), and judge + score existing
answer files (`score_answer_files`). Used by the CLI and by the training callback."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any, Sequence

from safellava.distributed import distributed_state
from safellava.prism.answers import Answer, read_answers
from safellava.prism.evaluate import TaskResult, evaluate
from safellava.prism.generate import GenerationSettings, generate_task_answers, resolve_image_aspect
from safellava.prism.judges.base import Judge
from safellava.prism.report import build_summary, write_report
from safellava.prism.tasks import TASKS, ImageLocator, TaskFileError, TaskSet, task_from_name

ANSWERS_DIR = "answers"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def locate_images(task_set: TaskSet, image_root: str | os.PathLike) -> dict[str, Path]:
    """The image file of every question, each checked to be a usable image: call it before loading a model,
    so that a missing or unusable image stops the run before any work."""
    return ImageLocator(image_root).resolve_all([q for qs in task_set.files.values() for q in qs])


def run_prism(
    model: Any,
    processor: Any,
    task_set: TaskSet,
    image_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    judge: Judge,
    *,
    model_id: str,
    template: str | None = None,
    image_aspect: str | None = None,
    settings: GenerationSettings = GenerationSettings(),
    meta: dict | None = None,
    show_progress: bool = True,
    image_paths: dict[str, Path] | None = None,
) -> dict | None:
    """Answer every question (all ranks together), then judge, score and write the report in `out_dir`
    (main process). Returns summary.json's content on the main process, None on the others.
    Answers go to `out_dir/answers/<task file name>`; a rerun resumes from them. `image_paths`: the
    questions' images as `locate_images` found them (located here when not given)."""
    _check_distinct_names(task_set)
    image_aspect = resolve_image_aspect(model, image_aspect) if template else None
    if image_paths is None:
        image_paths = locate_images(task_set, image_root)
    answers = generate_task_answers(
        model,
        processor,
        task_set,
        image_paths,
        Path(out_dir) / ANSWERS_DIR,
        model_id=model_id,
        template=template,
        image_aspect=image_aspect,
        settings=settings,
        show_progress=show_progress,
    )
    if not distributed_state().is_main_process:
        return None
    results = evaluate(answers, judge, task_set.by_task())
    info = {
        "model_id": model_id,
        "judge": judge.name,
        "tasks": [str(p) for p in task_set.files],
        "generation": {
            "template": template or "processor chat template",
            "image_aspect": image_aspect or "processor default",
            "max_new_tokens": settings.max_new_tokens,
            "batch_size": settings.batch_size,
            "first_line_only": settings.first_line,
            "decoding": "greedy",
        },
        "created": _now(),
        **(meta or {}),
    }
    summary = build_summary(results, info)
    write_report(summary, out_dir, results)
    return summary


def _check_distinct_names(task_set: TaskSet) -> None:
    names: dict[str, Path] = {}
    for path in task_set.files:
        other = names.setdefault(Path(path).name, Path(path))
        if other != Path(path):
            raise TaskFileError(
                f"two task files share the name {Path(path).name!r} ({other} and {path}); their answer "
                f"files would collide. Rename one."
            )


def collect_answer_files(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Answer files from files and folders (a folder contributes its `*.jsonl` files)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise FileNotFoundError(f"{path}: no *.jsonl answer files in this folder.")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such answer file or folder.")
    return files


def score_answer_files(
    answer_paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    judge: Judge,
    *,
    task: str | None = None,
    task_set: TaskSet | None = None,
    meta: dict | None = None,
) -> tuple[dict, dict[str, TaskResult]]:
    """Judge and score existing answer files (ours or PRISM's published ones) and write the report.

    Each file's task comes from its name unless `task` is given. With `task_set`, answers are matched to
    their questions (missing answers counted; required for benign accuracy); without, every answer row
    is one question and `missing` is unknown.
    """
    if task is not None and task not in TASKS:
        raise TaskFileError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    answers_by_task: dict[str, list[Answer]] = {}
    files = collect_answer_files(answer_paths)
    for path in files:
        file_task = task or task_from_name(path.name)
        if file_task is None:
            raise TaskFileError(
                f"{path}: cannot tell the task from the file name (expected one of {', '.join(TASKS)} in "
                f"it); pass --task."
            )
        answers_by_task.setdefault(file_task, []).extend(read_answers(path))
    questions = None
    if task_set is not None:
        questions = {t: qs for t, qs in task_set.by_task().items() if t in answers_by_task}
    results = evaluate(answers_by_task, judge, questions)
    model_ids = sorted({a.model_id for answers in answers_by_task.values() for a in answers if a.model_id})
    info = {
        "model_id": ", ".join(model_ids) or "unknown",
        "judge": judge.name,
        "answers": [str(p) for p in files],
        "tasks": [str(p) for p in task_set.files] if task_set is not None else [],
        "created": _now(),
        **(meta or {}),
    }
    summary = build_summary(results, info)
    write_report(summary, out_dir, results)
    return summary, results
