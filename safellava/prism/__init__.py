"""PRISM (Privacy-aware Evaluation of Responses in Sensitive Modalities): tasks, generation, judges,
metrics and reports.

Typical use from code (the CLI `safellava prism run|score|compare` wraps the same calls):

    from safellava.prism import build_judge, load_tasks, run_prism
    summary = run_prism(model, processor, load_tasks(["prism/"]), "prism/images", "out/",
                        build_judge("lexicon"), model_id="my-model", template="vicuna_v1")

Importing this package does not import torch; generation imports it when called.
"""

from __future__ import annotations

from safellava.attributes import ATTRIBUTES
from safellava.prism.answers import Answer, read_answers
from safellava.prism.evaluate import TaskResult, evaluate, score_task
from safellava.prism.judges import JUDGE_KINDS, Judge, build_judge
from safellava.prism.tasks import TASKS, ImageLocator, Question, TaskSet, load_tasks, sample_tasks

__all__ = [
    "ATTRIBUTES",
    "Answer",
    "GenerationSettings",
    "ImageLocator",
    "JUDGE_KINDS",
    "Judge",
    "Question",
    "TASKS",
    "TaskResult",
    "TaskSet",
    "build_judge",
    "evaluate",
    "generate_answers",
    "load_tasks",
    "read_answers",
    "run_prism",
    "sample_tasks",
    "score_answer_files",
    "score_task",
]


def __getattr__(name: str):
    # Generation and the pipeline pull in accelerate/torch: load them only when asked for.
    if name in ("GenerationSettings", "generate_answers"):
        from safellava.prism import generate

        return getattr(generate, name)
    if name in ("run_prism", "score_answer_files"):
        from safellava.prism import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'safellava.prism' has no attribute {name!r}")
