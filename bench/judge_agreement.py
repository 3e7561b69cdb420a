"""How closely the offline lexicon judge agrees with PRISM's LLM judges, on labelled PRISM answer files.

Input: labelled answer files (JSONL, one answer a line: `question_id`, `prompt`, `response`, and the LLM
judge's label in `gpt_judgement` — "Yes"/"No" for refusal files, a list of attributes for implicit
leakage), given as file or folder arguments, or the folder in $PRISM_DEV_DIR. A file's name says what it
holds: `<model>_<task>_<judge>.jsonl`, e.g. `qwen25vl7b_refusal_hard_gpt5nano.jsonl` (the task is one
of PRISM's, the judge `gpt5nano` → gpt-5-nano, `gemini20flash` → gemini-2.0-flash, anything else as
written). Files with the same model and task are the same answers labelled by different judges.

For every (model, task) the lexicon judge (`safellava.prism.judges.build_judge("lexicon")`, as
`prism score` runs it) judges the answers, and per attribute (plus overall) the bench reports:
- `figure`: the figure each judge gives — % refused for refusal tasks, PRISM's protection
  L_attr = 100 − % leaking for implicit leakage (plus macro and sentence-level L_sent);
- `agreement` and `kappa` (Cohen's) for every pair of judges, on the same answers.
Refusal tasks also report `text_only_ceiling` (the best agreement any function of the answer text can
reach against a judge whose identical answers carry both labels), `distinct_answers` (agreement when
each distinct answer text counts once, with its majority label; ties are counted and left out) and
`fixed_refusal_pct` (Safe-LLaVA's fixed refusal given to every question of the file, % judged refused).
`speed`: the lexicon's ms per answer, pinned to one CPU core, with a same-run baseline (parsing the
answers' JSON lines) so machines can be compared.

Prints ONE JSON line; `--markdown PATH` also writes the tables as Markdown (used in docs/prism.md).
Bad input exits 2 with a message naming the file, line and key.

Run: .venv/bin/python bench/judge_agreement.py path/to/prism-dev [--markdown tables.md]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from safellava.attributes import ATTRIBUTES, SAFE_LLAVA_REFUSAL  # noqa: E402
from safellava.errors import UserError  # noqa: E402
from safellava.prism.answers import read_answers  # noqa: E402
from safellava.prism.judges import JudgeReplyError, build_judge, parse_leakage_reply, parse_refusal_reply  # noqa: E402
from safellava.prism.tasks import REFUSAL_TASKS, task_from_name  # noqa: E402

LEXICON = "lexicon"
JUDGE_NAMES = {"gpt5nano": "gpt-5-nano", "gemini20flash": "gemini-2.0-flash"}
LABELLED_TASKS = (*REFUSAL_TASKS, "implicit_leakage")


class BenchInputError(Exception):
    """Bad bench input; the message names the file, line and key."""


@dataclass
class AnswerSet:
    """One model's answers to one task, with each LLM judge's labels (keyed by (question_id, prompt))."""

    model: str
    task: str
    files: list[str] = field(default_factory=list)
    rows: dict[tuple[str, str], dict] = field(default_factory=dict)
    labels: dict[str, dict[tuple[str, str], object]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Reading the files
# ---------------------------------------------------------------------------------------------------

def _files(arguments: list[str]) -> list[Path]:
    sources = arguments or ([os.environ["PRISM_DEV_DIR"]] if os.environ.get("PRISM_DEV_DIR") else [])
    if not sources:
        raise BenchInputError("give labelled answer files or folders as arguments, or set PRISM_DEV_DIR")
    found: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found += sorted(p for p in source.glob("*.jsonl") if task_from_name(p.name) in LABELLED_TASKS)
        elif source.is_file():
            found.append(source)
        else:
            raise BenchInputError(f"{source}: no such file or folder")
    if not found:
        raise BenchInputError(f"no labelled *.jsonl file with a task in its name ({', '.join(LABELLED_TASKS)}) in "
                              f"{', '.join(sources)}")
    return found


def _name_parts(path: Path) -> tuple[str, str, str]:
    """(model, task, judge) from `<model>_<task>_<judge>.jsonl`."""
    task = task_from_name(path.name)
    if task not in LABELLED_TASKS:
        raise BenchInputError(f"{path}: the file name must contain one of {', '.join(LABELLED_TASKS)}")
    model, _, judge = path.stem.partition(task)
    judge = judge.strip("_-")
    if not judge:
        raise BenchInputError(f"{path}: the file name must end with the judge that labelled it, "
                              f"e.g. <model>_{task}_gpt5nano.jsonl")
    return model.strip("_-") or "model", task, JUDGE_NAMES.get(judge, judge)


def _label(task: str, value: object, where: str) -> object:
    try:
        if task in REFUSAL_TASKS:
            if not isinstance(value, str):
                raise JudgeReplyError(f"expected \"Yes\" or \"No\", got {value!r}")
            return parse_refusal_reply(value)
        if isinstance(value, list):
            unknown = [a for a in value if a not in ATTRIBUTES]
            if unknown:
                raise JudgeReplyError(f"unknown attributes {unknown}; expected some of {', '.join(ATTRIBUTES)}")
            return frozenset(value)
        if isinstance(value, str):
            return parse_leakage_reply(value)
        raise JudgeReplyError(f"expected a list of attributes, got {value!r}")
    except JudgeReplyError as error:
        raise BenchInputError(f"{where}: key 'gpt_judgement': {error}") from None


def load(paths: list[Path]) -> list[AnswerSet]:
    sets: dict[tuple[str, str], AnswerSet] = {}
    for path in paths:
        model, task, judge = _name_parts(path)
        answer_set = sets.setdefault((model, task), AnswerSet(model, task))
        if judge == LEXICON:
            raise BenchInputError(f"{path}: 'lexicon' is the judge this bench runs; name the file after the "
                                  f"judge that labelled it")
        if judge in answer_set.labels:
            raise BenchInputError(f"{path}: a second file of {model} {task} labelled by {judge}")
        answer_set.files.append(path.name)
        labels = answer_set.labels[judge] = {}
        lines = path.read_text(encoding="utf-8").split("\n")
        for answer in read_answers(path):  # as `prism score` reads answer files; errors name path:line
            where = f"{path}:{answer.line}"
            key = (answer.question_id, answer.prompt)
            if key in labels:
                raise BenchInputError(f"{where}: question {key[0]!r} with this prompt appears twice")
            known = answer_set.rows.setdefault(key, {"prompt": answer.prompt, "response": answer.text})
            if known["response"] != answer.text:
                raise BenchInputError(f"{where}: question {key[0]!r} has a different response than in "
                                      f"{answer_set.files[0]}; files of one model and task must hold the same answers")
            labels[key] = _label(task, json.loads(lines[answer.line - 1]).get("gpt_judgement"), where)
    return list(sets.values())


# ---------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------

def cohen_kappa(a: list[bool], b: list[bool]) -> float | None:
    """Cohen's kappa of two binary raters; None when chance agreement is total (both constant, equal)."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    return None if chance == 1 else round((observed - chance) / (1 - chance), 3) + 0.0  # + 0.0: no "-0.0"


def _compare(columns: dict[str, list[bool]], figure_of) -> dict:
    """figure per judge, agreement and kappa per pair of judges, for one binary column per judge."""
    judges = list(columns)
    n = len(next(iter(columns.values())))
    out: dict = {"n": n, "figure": {j: figure_of(columns[j]) for j in judges}, "agreement": {}, "kappa": {}}
    for i, first in enumerate(judges):
        for second in judges[i + 1:]:
            pair = f"{first} vs {second}"
            a, b = columns[first], columns[second]
            out["agreement"][pair] = round(sum(x == y for x, y in zip(a, b)) / n, 3)
            out["kappa"][pair] = cohen_kappa(a, b)
    return out


def _pct(values: list[bool]) -> float:
    return round(100 * sum(values) / len(values), 2)


def _protection(values: list[bool]) -> float:
    return round(100 - 100 * sum(values) / len(values), 2)


def _judges(answer_set: AnswerSet) -> list[str]:
    """The LLM judges of a set, PRISM's (gpt-5-nano, gemini-2.0-flash) first, then any other by name."""
    known = list(JUDGE_NAMES.values())
    return sorted(answer_set.labels, key=lambda j: (known.index(j) if j in known else len(known), j))


def _attribute_of(question_id: str) -> str:
    category = question_id.split("/", 1)[0].lower()
    return category if category in ATTRIBUTES else "other"


def _labelled_by_all(answer_set: AnswerSet) -> tuple[list[tuple[str, str]], int]:
    """The answers every judge labelled (compared on the same answers), and how many others were left out."""
    keys = [k for k in answer_set.rows if all(k in labels for labels in answer_set.labels.values())]
    if not keys:
        raise BenchInputError(f"{', '.join(answer_set.files)}: no answer is in every file; files of one model "
                              f"and task must label the same answers")
    return keys, len(answer_set.rows) - len(keys)


def refusal_figures(answer_set: AnswerSet, judge, timings: dict[str, list[tuple[float, int]]]) -> dict:
    keys, left_out = _labelled_by_all(answer_set)
    pairs = [(answer_set.rows[k]["prompt"], answer_set.rows[k]["response"]) for k in keys]
    verdicts = _timed(judge.judge_refusals, pairs, timings["refusal"])
    columns = {LEXICON: [bool(v.refused) for v in verdicts]}
    columns |= {name: [answer_set.labels[name][k] for k in keys] for name in _judges(answer_set)}
    by_attribute: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        by_attribute[_attribute_of(key[0])].append(index)
    result = {"files": answer_set.files, "left_out_not_labelled_by_every_judge": left_out,
              "overall": _compare(columns, _pct), "per_attribute": {}}
    for attribute in [a for a in ATTRIBUTES if a in by_attribute] + (["other"] if "other" in by_attribute else []):
        idx = by_attribute[attribute]
        result["per_attribute"][attribute] = _compare({j: [c[i] for i in idx] for j, c in columns.items()}, _pct)
    result["text_only_ceiling"] = {name: _text_only_ceiling(pairs, columns[name]) for name in _judges(answer_set)}
    result["distinct_answers"] = {name: _distinct_agreement(pairs, columns[LEXICON], columns[name])
                                  for name in _judges(answer_set)}
    fixed = judge.judge_refusals([(question, SAFE_LLAVA_REFUSAL) for question, _ in pairs])
    result["fixed_refusal_pct"] = _pct([bool(v.refused) for v in fixed])
    return result


def _text_only_ceiling(pairs: list[tuple[str, str]], labels: list[bool]) -> float:
    by_text: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for (question, response), label in zip(pairs, labels):
        by_text[(question, response.strip())][label] += 1
    return round(sum(max(c.values()) for c in by_text.values()) / len(labels), 3)


def _distinct_agreement(pairs: list[tuple[str, str]], predicted: list[bool], labels: list[bool]) -> dict:
    """Agreement when each distinct (question, answer) counts once, against its majority label: a judge
    cannot look good by matching one answer that a model repeats many times."""
    votes: dict[tuple[str, str], Counter] = defaultdict(Counter)
    verdict: dict[tuple[str, str], bool] = {}
    for (question, response), p, label in zip(pairs, predicted, labels):
        key = (question, response.strip())
        votes[key][label] += 1
        verdict[key] = p
    decided = {k: c.most_common(1)[0][0] for k, c in votes.items() if len(c) == 1 or c[True] != c[False]}
    agree = sum(verdict[k] == label for k, label in decided.items())
    return {"n": len(decided), "ties_left_out": len(votes) - len(decided),
            "agreement": round(agree / len(decided), 3) if decided else None}


def implicit_figures(answer_set: AnswerSet, judge, timings: dict[str, list[tuple[float, int]]]) -> dict:
    keys, left_out = _labelled_by_all(answer_set)
    responses = [answer_set.rows[k]["response"] for k in keys]
    verdicts = _timed(judge.judge_leakage, responses, timings["implicit"])
    leaked = {LEXICON: [set(v.attributes or ()) for v in verdicts]}
    leaked |= {name: [answer_set.labels[name][k] for k in keys] for name in _judges(answer_set)}
    result: dict = {"files": answer_set.files, "left_out_not_labelled_by_every_judge": left_out, "per_attribute": {}}
    for attribute in ATTRIBUTES:
        columns = {j: [attribute in s for s in sets] for j, sets in leaked.items()}
        result["per_attribute"][attribute] = _compare(columns, _protection)
    result["sentence"] = _compare({j: [bool(s) for s in sets] for j, sets in leaked.items()}, _protection)
    result["macro"] = {j: round(sum(result["per_attribute"][a]["figure"][j] for a in ATTRIBUTES) / len(ATTRIBUTES), 2)
                       for j in leaked}
    return result


def _timed(call, items: list, timing: list[tuple[float, int]], repeats: int = 3) -> list:
    """call(items), timed as the best of `repeats` runs (the machine is shared); records (seconds, n)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        result = call(items)
        best = min(best, time.perf_counter() - started)
    timing.append((best, len(items)))
    return result


def _pin_to_one_core() -> int:
    """Time on one core, as the epoch hook's judge runs (single-threaded); returns the cores used."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return len(os.sched_getaffinity(0))
    return 1


def _json_baseline_ms(answer_sets: list[AnswerSet]) -> float:
    lines = [json.dumps(row) for s in answer_sets for row in s.rows.values()]
    started = time.perf_counter()
    for line in lines:
        json.loads(line)
    return 1000 * (time.perf_counter() - started) / len(lines)


def measure(answer_sets: list[AnswerSet]) -> dict:
    cores = _pin_to_one_core()
    judge = build_judge(LEXICON)
    timings: dict[str, list[tuple[float, int]]] = defaultdict(list)
    tasks: dict[str, dict] = {}
    for answer_set in answer_sets:
        figures = (refusal_figures if answer_set.task in REFUSAL_TASKS else implicit_figures)(answer_set, judge, timings)
        tasks[f"{answer_set.model}/{answer_set.task}"] = figures
    baseline = _json_baseline_ms(answer_sets)
    speed: dict = {"cpu_cores": cores, "json_parse_ms_per_answer": round(baseline, 4)}
    for kind in ("refusal", "implicit"):
        if timings[kind]:
            ms = 1000 * sum(t for t, _ in timings[kind]) / sum(n for _, n in timings[kind])
            speed[f"lexicon_{kind}_ms_per_answer"] = round(ms, 3)
            speed[f"lexicon_{kind}_vs_json_parse"] = round(ms / baseline, 1)
    return {"measured": "lexicon judge vs PRISM's LLM judges on labelled answer files", "tasks": tasks, "speed": speed}


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------

def _cell(value: object, digits: int = 2) -> str:
    if value is None:
        return "–"
    if not isinstance(value, float):
        return str(value)
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def _table(rows: dict[str, dict], first_column: str) -> list[str]:
    sample = next(iter(rows.values()))
    judges, pairs = list(sample["figure"]), list(sample["agreement"])
    header = [first_column, "n"] + judges + [f"% agree {p}" for p in pairs] + [f"κ {p}" for p in pairs]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        cells = [name, str(row["n"])] + [_cell(row["figure"][j]) for j in judges]
        cells += [f"{100 * row['agreement'][p]:.1f}" for p in pairs] + [_cell(row["kappa"][p]) for p in pairs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:
    out: list[str] = []
    for name, task in result["tasks"].items():
        refusal = "overall" in task
        what = "% refused" if refusal else "protection L = 100 − % leaking"
        out += [f"**{name}** ({what}; files: {', '.join(task['files'])})", ""]
        rows = dict(task["per_attribute"])
        rows["overall" if refusal else "sentence (L_sent)"] = task["overall" if refusal else "sentence"]
        out += _table(rows, "attribute") + [""]
        if task["left_out_not_labelled_by_every_judge"]:
            out.append(f"Left out: {task['left_out_not_labelled_by_every_judge']} answers not labelled by every judge.")
        if refusal:
            for judge, ceiling in task["text_only_ceiling"].items():
                distinct = task["distinct_answers"][judge]
                out.append(f"Against {judge}: the best agreement any judge reading only the text can reach is "
                           f"{ceiling:.3f} (identical answers carry both labels); counting each distinct answer "
                           f"once ({distinct['n']} answers, {distinct['ties_left_out']} ties left out), the "
                           f"lexicon agrees on {_cell(distinct['agreement'], 3)}.")
            out.append(f"Safe-LLaVA's fixed refusal, given as the answer to each of the {task['overall']['n']} "
                       f"questions: {task['fixed_refusal_pct']:.1f} % judged refused.")
        else:
            out.append("Macro protection: " + ", ".join(f"{j} {v:.2f}" for j, v in task["macro"].items()) + ".")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="labelled answer files or folders (default: $PRISM_DEV_DIR)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the tables as Markdown to PATH")
    args = parser.parse_args(argv)
    try:
        result = measure(load(_files(args.paths)))
    except (BenchInputError, UserError) as error:
        print(f"judge_agreement: {error}", file=sys.stderr)
        return 2
    if args.markdown:
        Path(args.markdown).write_text(markdown(result), encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
