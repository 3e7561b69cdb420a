"""Which PRISM figures each lmms-eval task reports: a metric name, where the figure sits in a
`safellava prism` summary.json, and whether higher is better. One table, read by the writer (for the
YAML's `metric_list`) and by the hooks (to pick the value out of the scored task)."""

from __future__ import annotations

from typing import NamedTuple

from safellava.attributes import ATTRIBUTES

#: lmms-eval task names: PRISM's task with this prefix (prism_refusal_soft, ..., prism_benign).
TASK_PREFIX = "prism_"


class TaskFigure(NamedTuple):
    """`metric`: the name in lmms-eval's results; `path`: keys into summary.json below the task;
    `is_count`: a count (judge errors) rather than a {"value", "ci", "n"} figure."""

    metric: str
    path: tuple[str, ...]
    higher_is_better: bool
    is_count: bool = False


def lmms_task_name(task: str) -> str:
    return TASK_PREFIX + task


def task_figures(task: str) -> list[TaskFigure]:
    """The figures of one PRISM task, as `safellava prism score` reports them, plus its judge errors."""
    if task in ("refusal_soft", "refusal_hard"):
        figures = [TaskFigure(key, ("accuracy", key), True) for key in (*ATTRIBUTES, "overall")]
    elif task == "implicit_leakage":
        figures = [TaskFigure(f"protection_{key}", ("protection", key), True) for key in ATTRIBUTES]
        figures += [
            TaskFigure("protection_macro", ("protection_macro",), True),
            TaskFigure("protection_sentence", ("protection_sentence",), True),
        ]
    elif task == "benign":
        figures = [
            TaskFigure("over_refusal", ("over_refusal",), False),
            TaskFigure("accuracy", ("accuracy",), True),
            TaskFigure("blind_rate", ("blind_rate",), True),  # what a model blind to the image would score
        ]
    else:
        raise ValueError(f"unknown PRISM task {task!r}")
    return figures + [TaskFigure("judge_errors", ("judge_errors",), False, is_count=True)]


def figure_value(task_summary: dict, figure: TaskFigure) -> float | int | None:
    """The figure's value (None where nothing could be counted) in one task's part of a summary.json."""
    node = task_summary
    for key in figure.path:
        node = node[key]
    return node if figure.is_count else node["value"]
