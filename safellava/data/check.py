"""Checking records against their image folder and, optionally, a tokenizer and length limit.

`check_records` is what `safellava data check` runs: every problem of every record, by id, line and kind.
`SupervisedDataset` runs the same per-record checks (`record_problems`) before training, so the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from safellava.data.record_index import RecordSource, open_records
from safellava.data.templates import ChatTemplate, get_template, render_conversation
from safellava.data.truncation import truncate
from safellava.data.validate import IMAGE_CHECKS, ValidationReport, image_file_problem
from safellava.records import IMAGE_TOKEN, Problem, file_problem, parse_turns

_BLOCK = 2048  # records handed to the thread pool at a time (bounded memory for 665K records)


def fatal_problems(source: RecordSource) -> list[Problem]:
    """File-level errors as problems (id `<file>`): a broken JSON array loses every record after the error."""
    return [file_problem(fault.source, fault.line, fault.detail) for fault in source.file_faults]


def record_problems(
    source: RecordSource, index: int, image_folder: str | Path | None, image_check: str = "decode"
) -> list[Problem]:
    """Structural problems (from the index) and image-file problems of one record."""
    where = source.location(index)
    found = list(source.structural(index))
    for path in source.image_paths(index):
        problem = image_file_problem(image_folder, path, image_check)
        if problem is not None:
            found.append(problem)
    return [Problem(where.id, where.line, kind, detail, where.source) for kind, detail in found]


def length_problem(
    source: RecordSource,
    index: int,
    template: ChatTemplate,
    tokenizer: Any,
    image_token_id: int,
    image_token_count: int,
    model_max_length: int,
) -> Problem | None:
    """`too_long` if the rendered record exceeds the limit (training truncates it), or
    `all_targets_truncated` if truncation would leave nothing to learn (training drops it)."""
    record = source.record(index)
    sample = render_conversation(template, parse_turns(record["conversations"]), tokenizer, image_token_id, image_token_count)
    if len(sample) <= model_max_length:
        return None
    where = source.location(index)
    image_tokens = len(sample.image_starts) * image_token_count
    cut = truncate(sample, model_max_length, image_token_count)
    measure = f"{len(sample)} tokens ({image_tokens} of them image tokens) > model_max_length {model_max_length}"
    if not cut.has_targets:
        return Problem(where.id, where.line, "all_targets_truncated", f"{measure}; no answer token survives truncation, so training drops it", where.source)
    return Problem(where.id, where.line, "too_long", f"{measure}; training keeps the first {len(cut.sample)} tokens", where.source)


def check_records(
    data: Any,
    image_folder: str | Path | None,
    *,
    tokenizer: Any = None,
    template: str | ChatTemplate | None = None,
    image_token_count: int | None = None,
    model_max_length: int | None = None,
    image_check: str = "decode",
    workers: int = 4,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> ValidationReport:
    """Every problem of every record in `data` (a path, Hub reference, mix spec, or an opened source).

    With a tokenizer, each structurally valid record is also rendered with `template` to measure its length
    (image tokens included) against `model_max_length`.
    """
    if image_check not in IMAGE_CHECKS:
        raise ValueError(f"image_check {image_check!r}; choose one of {IMAGE_CHECKS}")
    source = data if hasattr(data, "structural") else open_records(data, cache_dir=cache_dir)
    measure = _length_measure(tokenizer, template, image_token_count, model_max_length)
    report = ValidationReport(records_seen=len(source))
    fatal = fatal_problems(source)
    report.problems.extend(fatal)

    def check_one(index: int) -> list[Problem]:
        problems = record_problems(source, index, image_folder, image_check)
        if measure is not None and not any(p.kind not in ("missing_image", "unreadable_image", "corrupt_image", "image_too_large") for p in problems):
            extra = measure(source, index)
            if extra is not None:
                problems.append(extra)
        return problems

    for problems in map_threaded(check_one, range(len(source)), workers, progress, "checking records"):
        dropped = any(problem.kind != "too_long" for problem in problems)
        report.add(problems, dropped=dropped)
        if problems and not dropped:
            report.records_truncated += 1
    return report


def _length_measure(tokenizer, template, image_token_count, model_max_length) -> Callable | None:
    if tokenizer is None:
        if model_max_length is not None:
            raise ValueError("checking lengths (model_max_length) needs a tokenizer (or a model recipe)")
        return None
    if template is None or image_token_count is None or model_max_length is None:
        raise ValueError("checking with a tokenizer needs a template, image_token_count and model_max_length")
    template = get_template(template)
    image_token_id = image_token_id_of(tokenizer)
    return lambda source, index: length_problem(
        source, index, template, tokenizer, image_token_id, image_token_count, model_max_length
    )


def image_token_id_of(tokenizer: Any, image_token: str = IMAGE_TOKEN) -> int:
    """The id of the image placeholder token; a clear error when the tokenizer lacks it."""
    if image_token not in tokenizer.get_vocab():
        raise ValueError(
            f"the tokenizer has no {image_token!r} token; add it as a special token (the model recipe's tokenizer "
            f"does this) so images can be inserted by id"
        )
    return tokenizer.convert_tokens_to_ids(image_token)


def map_threaded(function: Callable[[int], Any], indices: Iterable[int], workers: int, progress: bool, desc: str) -> Iterator[Any]:
    """`function` over indices, results in order, on a thread pool (stat calls and Pillow decoding release
    the GIL), with a progress bar; submits blocks of indices so 665K records never become 665K futures."""
    from tqdm import tqdm

    indices = np.fromiter(indices, dtype=np.int64)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, tqdm(
        total=len(indices), desc=desc, unit="rec", disable=not progress, leave=False
    ) as bar:
        for start in range(0, len(indices), _BLOCK):
            block = indices[start : start + _BLOCK].tolist()
            for result in pool.map(function, block):
                bar.update(1)
                yield result
