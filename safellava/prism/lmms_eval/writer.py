"""Write PRISM's tasks as lmms-eval task definitions: `safellava prism lmms-eval-tasks`.

For every PRISM task present in the task files, OUT gets `prism_<task>.jsonl` (the questions as
lmms-eval documents, each with its image's absolute path, checked to load) and `prism_<task>.yaml` (the
task: local JSON data, greedy generation, the hooks of `safellava.prism.lmms_eval.hooks`, one metric per
figure of `safellava prism score`), plus `prism.yaml` (the group of them all) and the settings file the
hooks read (judge, generation, where reports go). `lmms-eval --include_path OUT --tasks prism_...` runs them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from safellava.atomic import write_json, write_text
from safellava.prism.lmms_eval.figures import lmms_task_name, task_figures
from safellava.prism.tasks import TASKS, TaskSet

SETTINGS_FILE = "prism_lmms_eval.json"
REPORTS_DIR = "reports"
GROUP = "prism"
_HOOKS = "safellava.prism.lmms_eval.hooks"


def write_task_definitions(
    task_set: TaskSet,
    image_paths: Mapping[str, Path],
    out_dir: str | os.PathLike,
    *,
    judge: str = "lexicon",
    judge_options: Mapping | None = None,
    max_new_tokens: int = 200,
    first_line: bool = False,
    limit: int | None = None,
    seed: int | None = None,
) -> list[Path]:
    """Write the task files (see the module docstring) and return their paths.

    `image_paths`: each question's image (`pipeline.locate_images`); `judge`/`judge_options`: what
    `judges.build_judge` gets when lmms-eval scores; `limit`/`seed`: recorded, the task set is already
    the sample.
    """
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = out / SETTINGS_FILE
    write_json(
        settings,
        {
            "judge": judge,
            "judge_options": dict(judge_options or {}),
            "first_line": first_line,
            "generation": {"max_new_tokens": max_new_tokens, "first_line_only": first_line, "decoding": "greedy"},
            "tasks": [str(Path(path).resolve()) for path in task_set.files],
            "limit": limit,
            "seed": seed,
            "report_dir": str(out / REPORTS_DIR),
        },
    )
    written = [settings]
    by_task = task_set.by_task()
    names = []
    for task in [t for t in TASKS if t in by_task]:
        name = lmms_task_name(task)
        names.append(name)
        documents = out / f"{name}.jsonl"
        lines = [
            json.dumps(
                {
                    "question_id": q.question_id,
                    "image": q.image,
                    "text": q.text,
                    "category": q.category,
                    "task": task,
                    "answers": list(q.answers),
                    "kind": q.kind,
                    "image_path": str(Path(image_paths[q.image]).resolve()),
                    "settings": str(settings),
                },
                ensure_ascii=False,
            )
            for q in by_task[task]
        ]
        write_text(documents, "\n".join(lines) + "\n")
        write_text(out / f"{name}.yaml", task_yaml(name, task, documents, max_new_tokens))
        written += [documents, out / f"{name}.yaml"]
    write_text(out / f"{GROUP}.yaml", group_yaml(names))
    return written + [out / f"{GROUP}.yaml"]


def task_yaml(name: str, task: str, documents: Path, max_new_tokens: int) -> str:
    """One lmms-eval task: the documents as a local JSON dataset, greedy decoding, PRISM's figures."""
    metrics = "".join(
        f"  - metric: {figure.metric}\n"
        f"    aggregation: !function {_HOOKS}.aggregate\n"
        f"    higher_is_better: {'true' if figure.higher_is_better else 'false'}\n"
        for figure in task_figures(task)
    )
    return (
        "# Written by `safellava prism lmms-eval-tasks`; PRISM's figures as `safellava prism score` reports them.\n"
        f"task: {name}\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n"
        "  data_files:\n"
        f"    test: {json.dumps(str(documents))}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        f"doc_to_visual: !function {_HOOKS}.doc_to_visual\n"
        f"doc_to_text: !function {_HOOKS}.doc_to_text\n"
        'doc_to_target: ""\n'
        "generation_kwargs:\n"
        f"  max_new_tokens: {max_new_tokens}\n"
        "  temperature: 0\n"
        "  do_sample: false\n"
        "  num_beams: 1\n"
        f"process_results: !function {_HOOKS}.process_results\n"
        "metric_list:\n"
        f"{metrics}"
        "metadata:\n"
        "  version: 1\n"
    )


def group_yaml(names: list[str]) -> str:
    return "# Every PRISM task written here: lmms-eval --tasks prism\n" f"group: {GROUP}\ntask:\n" + "".join(
        f"  - {name}\n" for name in names
    )
