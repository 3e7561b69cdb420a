"""The functions PRISM's lmms-eval task files name (`!function safellava.prism.lmms_eval.hooks.<name>`).

lmms-eval prompts the model with `doc_to_visual` and `doc_to_text` of a document (one PRISM question, as
`writer` wrote it), hands each answer to `process_results`, and calls `aggregate` once per metric with
every document's item. A task's answers are judged and scored once, by `safellava.prism.evaluate` (the
code behind `safellava prism score`), and every metric of the task is read from that one result; the
task's full report (summary.json with intervals, summary.md, judged/<task>.jsonl) is written to the
report folder named in the settings file.

The judge is the one chosen when the task files were written (lexicon by default). For the openai judge,
what the settings leave open is read from lmms-eval's usual environment variables: `MODEL_VERSION` (the
judge model), `OPENAI_API_URL` (the endpoint) and the key from `OPENAI_API_KEY`.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
from pathlib import Path
from typing import Any

from safellava.prism.generate import finish_answer
from safellava.prism.lmms_eval.figures import figure_value, lmms_task_name, task_figures

#: The model id recorded in the reports: lmms-eval does not tell its tasks which model answered.
MODEL_ID = "lmms-eval"
#: What a document carries into its scoring item besides the answer.
ITEM_KEYS = ("question_id", "image", "text", "category", "task", "answers", "kind", "settings")
_CHAT_COMPLETIONS = "/chat/completions"

# Scored tasks by (settings file, task, the items' questions and answers): the metrics of one task share
# one judging pass.
_scored: dict[tuple, dict] = {}


def doc_to_visual(doc: dict) -> list[Any]:
    from safellava.data.images import load_image

    return [load_image(doc["image_path"])]


def doc_to_text(doc: dict) -> str:
    return doc["text"]


def process_results(doc: dict, results: list[Any]) -> dict[str, dict]:
    """One scoring item per metric of the document's task: the question and its answer, finished the
    way `safellava prism run` finishes answers (stripped; first line only if the tasks were written so)."""
    settings = read_settings(doc["settings"])
    item = {key: doc[key] for key in ITEM_KEYS}
    item["response"] = finish_answer(str(results[0]), settings["first_line"])
    return {figure.metric: {**item, "metric": figure.metric} for figure in task_figures(doc["task"])}


def aggregate(items: list[dict]) -> float | int | None:
    """The value of the items' metric (a percentage, or the count of judge errors); None when no item
    could be counted (e.g. every answer got a judge error)."""
    first = items[0]
    task = first["task"]
    summary = score_items(items)
    figure = next(f for f in task_figures(task) if f.metric == first["metric"])
    return figure_value(summary[task], figure)


def score_items(items: list[dict]) -> dict:
    """Judge and score one task's items (once per distinct set of answers) and write its report; returns
    the summary.json content."""
    task, settings_file = items[0]["task"], items[0]["settings"]
    key = (settings_file, task, tuple((i["question_id"], i["text"], i["response"]) for i in items))
    if key not in _scored:
        _scored[key] = _score(task, items, read_settings(settings_file))
    return _scored[key]


def _score(task: str, items: list[dict], settings: dict) -> dict:
    from safellava.prism.answers import make_answer
    from safellava.prism.evaluate import evaluate
    from safellava.prism.report import build_summary, write_report
    from safellava.prism.tasks import Question

    questions = [
        Question(i["question_id"], i["image"], i["text"], i["category"], task, answers=tuple(i["answers"] or ()),
                 kind=i.get("kind", ""))
        for i in items
    ]
    answers = [make_answer(question, item["response"], MODEL_ID) for question, item in zip(questions, items)]
    judge = settings_judge(settings)
    results = evaluate({task: answers}, judge, {task: questions})
    meta = {
        "model_id": MODEL_ID,
        "judge": judge.name,
        "tasks": settings["tasks"],
        "generation": {**settings["generation"], "prompting": "the lmms-eval model's own"},
        "limit": settings["limit"],
        "seed": settings["seed"],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    summary = build_summary(results, meta)
    write_report(summary, Path(settings["report_dir"]) / lmms_task_name(task), results)
    return summary


@functools.lru_cache(maxsize=8)
def read_settings(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def settings_judge(settings: dict):
    """The judge the settings name; an openai judge takes its model and endpoint from lmms-eval's
    environment variables where the settings leave them open."""
    from safellava.prism.judges import build_judge

    kind, options = settings["judge"], dict(settings["judge_options"])
    if kind == "openai":
        options["model"] = options.get("model") or os.environ.get("MODEL_VERSION")
        if not options.get("base_url") and os.environ.get("OPENAI_API_URL"):
            options["base_url"] = openai_base_url(os.environ["OPENAI_API_URL"])
        if not options["model"]:
            raise ValueError(
                "the openai judge of the PRISM tasks needs a model: set MODEL_VERSION (e.g. gpt-5-nano) or "
                "write the tasks again with --judge-model."
            )
    return build_judge(kind, **options)


def openai_base_url(url: str) -> str:
    """lmms-eval's OPENAI_API_URL names the chat-completions address; the judge wants the root below it."""
    url = url.rstrip("/")
    return url[: -len(_CHAT_COMPLETIONS)] if url.endswith(_CHAT_COMPLETIONS) else url
