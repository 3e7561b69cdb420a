"""`SupervisedDataset`: LLaVA records → (input_ids, labels, pixel_values) for the trainer.

Before training, every record is checked (structure from the index, image files as deep as
`image_check`); faulty records are left out and counted in `dataset.report`, or, with
`validation="strict"`, the first one stops construction. Two problems can only show up when a sample is
built: an image that fails to decode, and a sample whose answers are all cut away by `model_max_length`.
Those are counted too (and appended to `problems_dir` so data-loader workers and ranks can be merged with
`collect_report`); in skip mode the sample is replaced by the next good sample of the same modality, so
the batch keeps its shape; in strict mode they raise.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from safellava.data.check import fatal_problems, image_token_id_of, map_threaded, record_problems
from safellava.data.images import ImageLoadError, ImagePreprocessor, load_image
from safellava.data.record_index import RecordSource, open_records
from safellava.data.templates import ChatTemplate, get_template, render_conversation
from safellava.data.truncation import truncate
from safellava.data.validate import (
    DataValidationError,
    ValidationReport,
    read_problems_dir,
    resolve_image_path,
    write_problems_jsonl,
)
from safellava.records import Problem, parse_turns

logger = logging.getLogger(__name__)

VALIDATION_MODES = ("skip", "strict")
_CALIBRATION_RECORDS = 256  # records rendered to turn word/char/turn counts into token-length estimates


class SupervisedDataset(torch.utils.data.Dataset):
    """A map-style dataset of rendered, tokenized, image-processed LLaVA samples.

    Each item is `{"input_ids": LongTensor[T], "labels": LongTensor[T], "pixel_values": FloatTensor[n, 3, H, W]
    or None}` — None marks a text-only sample. `T <= model_max_length` counts `image_token_count` tokens per
    image. `image_processor` may be the image processor or a whole LlavaProcessor.
    """

    def __init__(
        self,
        records_source: RecordSource | str | Path | list,
        template: str | ChatTemplate,
        tokenizer: Any,
        image_processor: Any,
        image_folder: str | Path | None,
        image_token_count: int,
        model_max_length: int,
        image_aspect: str = "pad",
        validation: str = "skip",
        *,
        image_check: str = "exists",
        problems_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        workers: int = 8,
        progress: bool = True,
    ):
        if validation not in VALIDATION_MODES:
            raise ValueError(f"validation {validation!r}; choose one of {VALIDATION_MODES}")
        if image_token_count <= 0 or model_max_length <= 0:
            raise ValueError("image_token_count and model_max_length must be positive")
        self.source = records_source if hasattr(records_source, "structural") else open_records(records_source, cache_dir=cache_dir)
        self.template = get_template(template)
        self.tokenizer = tokenizer
        self.image_token_id = image_token_id_of(tokenizer)
        self.image_token_count = image_token_count
        self.model_max_length = model_max_length
        self.image_folder = Path(image_folder) if image_folder is not None else None
        self.images = ImagePreprocessor(getattr(image_processor, "image_processor", image_processor), image_aspect)
        self.validation = validation
        self.problems_dir = Path(problems_dir) if problems_dir is not None else None
        self.report = ValidationReport(records_seen=len(self.source))
        self._kept = self._validate(image_check, workers, progress)
        self._has_image = self.source.n_images[self._kept] > 0
        self._failed: set[int] = set()  # positions found bad while building samples (this process)
        self._truncated: set[int] = set()  # positions cut to model_max_length (counted once, not per epoch)
        self._length_fit: np.ndarray | None = None

    # ------------------------------------------------------------------------------------------- validation

    def _validate(self, image_check: str, workers: int, progress: bool) -> np.ndarray:
        fatal = fatal_problems(self.source)
        if fatal:
            # Records after a syntax error in a JSON array cannot be counted, so this is never skipped.
            raise DataValidationError(fatal[0])
        suspects = np.flatnonzero(self.source.problem_mask | (self.source.n_images > 0))
        bad = np.zeros(len(self.source), dtype=bool)
        check = lambda index: record_problems(self.source, index, self.image_folder, image_check)  # noqa: E731
        for index, problems in zip(suspects, map_threaded(check, suspects, workers, progress, "validating records")):
            if problems:
                if self.validation == "strict":
                    raise DataValidationError(problems[0])
                self.report.add(problems)
                bad[index] = True
        if self.report.records_dropped:
            logger.warning("data validation skipped records:\n%s", self.report.summary())
        if bad.all():
            raise ValueError(
                f"no usable record in {getattr(self.source, 'name', self.source)}:\n{self.report.summary()}\n"
                f"run `safellava data check` on it to list the problems"
            )
        return np.flatnonzero(~bad)

    def _lazy_problem(self, position: int, kind: str, detail: str) -> None:
        where = self.source.location(int(self._kept[position]))
        problem = Problem(where.id, where.line, kind, detail, where.source)
        if self.validation == "strict":
            raise DataValidationError(problem)
        if position in self._failed:
            return
        self._failed.add(position)
        self.report.add([problem])
        logger.warning("skipping a record: %s", problem.describe())
        if self.problems_dir is not None:
            self.problems_dir.mkdir(parents=True, exist_ok=True)
            write_problems_jsonl([problem], self.problems_dir / f"problems-{os.getpid()}.jsonl")

    # ------------------------------------------------------------------------------------------- items

    def __len__(self) -> int:
        return len(self._kept)

    def __getitem__(self, position: int) -> dict[str, Any]:
        for candidate in self._same_modality_from(position):
            if candidate in self._failed:
                continue
            item = self._build(candidate)
            if item is not None:
                return item
        raise RuntimeError(f"no usable sample left in the dataset ({self.report.records_dropped} records dropped)")

    def _same_modality_from(self, position: int):
        """`position` itself, then the following samples of the same modality (image / text-only), cyclically."""
        yield position
        same = np.flatnonzero(self._has_image == self._has_image[position])
        start = int(np.searchsorted(same, position))
        for step in range(1, len(same)):
            yield int(same[(start + step) % len(same)])

    def _build(self, position: int) -> dict[str, Any] | None:
        record = self.source.record(int(self._kept[position]))
        sample = render_conversation(
            self.template, parse_turns(record["conversations"]), self.tokenizer, self.image_token_id, self.image_token_count
        )
        cut = truncate(sample, self.model_max_length, self.image_token_count)
        if not cut.has_targets:
            detail = f"{len(sample)} tokens; nothing supervised is left within model_max_length {self.model_max_length}"
            self._lazy_problem(position, "all_targets_truncated", detail)
            return None
        pixel_values = None
        paths = self.source.image_paths(int(self._kept[position]))[: cut.images_kept]
        if paths:
            try:
                pixel_values = self.images([load_image(resolve_image_path(self.image_folder, path)) for path in paths])
            except ImageLoadError as error:
                self._lazy_problem(position, error.kind, error.detail)
                return None
        if cut.was_cut and position not in self._truncated:
            self._truncated.add(position)
            self.report.records_truncated += 1
        return {
            "input_ids": torch.tensor(cut.sample.input_ids, dtype=torch.long),
            "labels": torch.tensor(cut.sample.labels, dtype=torch.long),
            "pixel_values": pixel_values,
        }

    # ------------------------------------------------------------------------------------------- lengths

    def modality_lengths(self, *, exact: bool = False) -> np.ndarray:
        """Signed sample lengths in tokens for `ModalityLengthGroupedSampler`: positive = has an image,
        negative = text-only; capped at model_max_length.

        By default estimated from the index's word, character and turn counts with a linear fit on a few
        hundred rendered records (typically within ~3 %); `exact` renders every record (≈0.1-0.5 ms each)."""
        if exact:
            lengths = np.array([self._rendered_length(p) for p in range(len(self))], dtype=np.int64)
        else:
            rows = self._kept
            features = self._length_features(rows)
            images = np.maximum(self.source.n_images[rows], 0)
            lengths = np.rint(features @ self._fit_lengths()).astype(np.int64) + images * self.image_token_count
        lengths = np.clip(lengths, 1, self.model_max_length)
        return np.where(self._has_image, lengths, -lengths)

    def _rendered_length(self, position: int) -> int:
        record = self.source.record(int(self._kept[position]))
        sample = render_conversation(
            self.template, parse_turns(record["conversations"]), self.tokenizer, self.image_token_id, self.image_token_count
        )
        return len(sample)

    def _length_features(self, rows: np.ndarray) -> np.ndarray:
        source = self.source
        return np.column_stack(
            [source.n_words[rows], source.n_chars[rows], source.n_turns[rows], np.ones(len(rows))]
        ).astype(float)

    def _fit_lengths(self) -> np.ndarray:
        """Coefficients of text tokens ≈ a·words + b·chars + c·turns + d, fitted on evenly spaced records."""
        if self._length_fit is None:
            picks = np.unique(np.linspace(0, len(self) - 1, min(len(self), _CALIBRATION_RECORDS)).astype(int))
            rows = self._kept[picks]
            images = np.maximum(self.source.n_images[rows], 0)
            tokens = np.array([self._rendered_length(p) for p in picks], float) - images * self.image_token_count
            features = self._length_features(rows)
            if len(picks) >= 2 * features.shape[1]:
                self._length_fit = np.linalg.lstsq(features, tokens, rcond=None)[0]
            else:  # too few records for a fit: tokens per character
                ratio = tokens.sum() / max(features[:, 1].sum(), 1.0)
                self._length_fit = np.array([0.0, ratio, 0.0, 0.0])
        return self._length_fit

    # ------------------------------------------------------------------------------------------- helpers

    def blank_pixel_values(self) -> torch.Tensor:
        """A processed mean-colour image [1, 3, H, W] for batches without images (see `DataCollator`)."""
        return self.images.blank()

    def make_collator(self, *, keep_vision_tower_busy: bool = True, pad_to_multiple_of: int | None = None):
        """The `DataCollator` matching this dataset's tokenizer and image tokens."""
        from safellava.data.collate import DataCollator

        if self.tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; add one (the model recipe's tokenizer does) before batching")
        return DataCollator(
            pad_token_id=self.tokenizer.pad_token_id,
            image_token_id=self.image_token_id,
            image_token_count=self.image_token_count,
            blank_pixel_values=self.blank_pixel_values() if keep_vision_tower_busy else None,
            pad_to_multiple_of=pad_to_multiple_of,
        )


def collect_report(dataset: SupervisedDataset) -> ValidationReport:
    """The dataset's report plus the problems data-loader workers appended to `problems_dir` (deduplicated)."""
    report = ValidationReport(
        records_seen=dataset.report.records_seen,
        records_dropped=dataset.report.records_dropped,
        records_truncated=dataset.report.records_truncated,
        problems=list(dataset.report.problems),
    )
    if dataset.problems_dir is None or not dataset.problems_dir.exists():
        return report
    known = set(report.problems)
    for problem in read_problems_dir(dataset.problems_dir):
        if problem not in known:
            known.add(problem)
            report.add([problem])
    return report
