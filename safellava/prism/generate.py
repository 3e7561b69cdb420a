"""Answer PRISM questions with an image-text-to-text model: batched, left-padded, greedy, resumable,
sharded over the processes of an `accelerate launch`.

`generate_answers` works on a model already in memory (the training callback's case); `load_model` and
`generate_task_answers` add what the CLI needs. Prompts come either from the conversation template a
safellava model was trained with (`template=...`, rendered by `safellava.data.templates`, so the model
is prompted exactly as in training) or from the processor's chat template (any other checkpoint).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from tqdm import tqdm

from safellava.distributed import distributed_state
from safellava.prism.answers import Answer, append_answers, make_answer, read_answers, write_answers
from safellava.prism.tasks import Question, TaskSet
from safellava.records import IMAGE_TOKEN

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class GenerationSettings:
    """How answers are produced. `max_new_tokens` is in tokens (PRISM used 200 for LLaVA models);
    `first_line` keeps only the first line of each answer, as PRISM's script did for its own
    retrained models — off by default because it shortens descriptions and flatters leakage scores."""

    batch_size: int = 8
    max_new_tokens: int = 200
    first_line: bool = False


# --------------------------------------------------------------------------------------------------
# Prompt builders: a batch of (question, image) → model inputs, left-padded.


class ChatTemplatePrompts:
    """Prompts through the processor's own chat template (llava-hf and other hub checkpoints)."""

    def __init__(self, processor: Any) -> None:
        if not getattr(processor, "chat_template", None):
            raise ValueError(
                "the processor has no chat template; pass the conversation template the model was "
                "trained with (--template NAME)."
            )
        self.processor = processor

    def __call__(self, questions: Sequence[Question], images: Sequence[Any]) -> Any:
        texts = [
            self.processor.apply_chat_template(
                [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q.text}]}],
                add_generation_prompt=True,
                tokenize=False,
            )
            for q in questions
        ]
        with _left_padding(self.processor.tokenizer):
            return self.processor(text=texts, images=list(images), padding=True, return_tensors="pt")


class TrainingTemplatePrompts:
    """Prompts rendered by `safellava.data.templates.render_prompt` with the template a model was trained
    with, and images preprocessed by the training `ImagePreprocessor` (`image_aspect` "pad" or
    "resize"), so generation sees exactly the token layout and pixels of training."""

    def __init__(self, processor: Any, template: str, image_aspect: str = "pad") -> None:
        from safellava.data import templates
        from safellava.data.images import ImagePreprocessor
        from safellava.model.processor import image_token_count

        self.processor = processor
        self._pixels = ImagePreprocessor(processor.image_processor, image_aspect)
        self.template = templates.get_template(template)
        self._render = templates.render_prompt
        self._image_tokens = image_token_count(processor)
        self._image_token_id = processor.tokenizer.convert_tokens_to_ids(processor.image_token)

    def __call__(self, questions: Sequence[Question], images: Sequence[Any]) -> Any:
        import torch
        from transformers import BatchFeature

        rows = [
            self._render(
                self.template,
                [{"from": "human", "value": IMAGE_TOKEN + "\n" + q.text}],
                self.processor.tokenizer,
                self._image_token_id,
                self._image_tokens,
            )
            for q in questions
        ]
        ids = [list(row) for row in rows]
        width = max(len(row) for row in ids)
        pad_id = _pad_id(self.processor.tokenizer)
        input_ids = torch.tensor([[pad_id] * (width - len(row)) + row for row in ids])
        attention_mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in ids])
        pixels = self._pixels(images)
        return BatchFeature({"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": pixels})


def prompt_builder(
    processor: Any, template: str | None, image_aspect: str = "pad"
) -> Callable[[Sequence[Question], Sequence[Any]], Any]:
    """The training template when one is named, else the processor's chat template (and its own image
    preprocessing, as for any hub checkpoint)."""
    return TrainingTemplatePrompts(processor, template, image_aspect) if template else ChatTemplatePrompts(processor)


@contextlib.contextmanager
def _left_padding(tokenizer: Any) -> Iterator[None]:
    # Left padding puts every prompt's last token in the same column, so new tokens line up.
    previous = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield
    finally:
        tokenizer.padding_side = previous


def _pad_id(tokenizer: Any) -> int:
    if tokenizer.pad_token_id is not None:
        return tokenizer.pad_token_id
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has neither a pad nor an eos token; cannot pad a batch.")
    return tokenizer.eos_token_id


# --------------------------------------------------------------------------------------------------
# Generation


def generate_answers(
    model: Any,
    processor: Any,
    questions: Sequence[Question],
    image_paths: Mapping[str, Path],
    *,
    model_id: str,
    template: str | None = None,
    image_aspect: str | None = None,
    settings: GenerationSettings = GenerationSettings(),
    answers_file: str | os.PathLike | None = None,
    show_progress: bool = True,
) -> list[Answer]:
    """Answer `questions` (all ranks call this together) and return the answers, in question order, on
    every rank.

    Args:
        image_paths: the file of each question's `image` field (`ImageLocator.resolve_all`).
        model_id: recorded in every answer.
        template: conversation template name for safellava models; None = processor chat template.
        image_aspect: with `template`, how training preprocessed images ("pad" or "resize"); default:
            the recipe attached to a model built by safellava, else "pad" (LLaVA-1.5's choice).
        answers_file: when given, answers already in it (or in a previous run's `.rank*.partial`
            files beside it) are reused, new answers are appended to this rank's partial file as they
            come, and the merged file is written at the end by the main process.
    Under `accelerate launch`, rank r answers every world_size-th pending question; shards are padded to
    the same number of batches so every rank calls `generate` equally often (ZeRO-3 needs it).
    """
    from accelerate.utils import gather_object

    if settings.batch_size < 1 or settings.max_new_tokens < 1:
        raise ValueError("batch_size and max_new_tokens must be at least 1")
    state = distributed_state()
    path = Path(answers_file) if answers_file is not None else None
    done = _finished_answers(path) if path is not None else {}
    pending = [q for q in questions if q.key not in done]
    # Every rank must see the same finished set before any rank appends new answers.
    state.wait_for_everyone()
    shard = _shard(pending, state.process_index, state.num_processes, settings.batch_size)
    partial = _partial_path(path, state.process_index) if path is not None else None
    build = prompt_builder(processor, template, resolve_image_aspect(model, image_aspect))
    new: list[Answer] = []
    was_training = model.training
    model.eval()
    try:
        with tqdm(
            total=len(shard), desc="PRISM generate", unit="q", disable=not show_progress or not state.is_local_main_process
        ) as bar:
            for start in range(0, len(shard), settings.batch_size):
                batch = shard[start : start + settings.batch_size]
                texts = _generate_batch(model, processor, build, [q for q, _ in batch], image_paths, settings)
                answers = [make_answer(q, text, model_id) for (q, padding), text in zip(batch, texts) if not padding]
                if partial is not None:
                    append_answers(partial, answers)
                new.extend(answers)
                bar.update(len(batch))
    finally:
        model.train(was_training)
    if state.num_processes > 1:
        new = gather_object(new)
    merged = dict(done)
    for answer in new:
        merged.setdefault(answer.key, answer)
    if path is not None:
        if state.is_main_process:
            wanted = [merged[q.key] for q in questions]
            asked = {q.key for q in questions}
            others = [a for key, a in merged.items() if key not in asked]
            write_answers(path, wanted + others)  # answers to questions outside this run are kept
            for leftover in path.parent.glob(f"{path.name}.rank*{PARTIAL_SUFFIX}"):
                leftover.unlink()
        state.wait_for_everyone()
    return [merged[q.key] for q in questions]


def resolve_image_aspect(model: Any, image_aspect: str | None) -> str:
    """`image_aspect` if given, else the one of the recipe a safellava-built model carries, else "pad"."""
    return image_aspect or getattr(getattr(model, "safellava_recipe", None), "image_aspect", None) or "pad"


def _generate_batch(
    model: Any,
    processor: Any,
    build: Callable[[Sequence[Question], Sequence[Any]], Any],
    questions: Sequence[Question],
    image_paths: Mapping[str, Path],
    settings: GenerationSettings,
) -> list[str]:
    import torch

    from safellava.data.images import load_image

    images = [load_image(image_paths[question.image]) for question in questions]
    inputs = build(questions, images).to(model.device)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=_pad_id(processor.tokenizer),
        )
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    texts = processor.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return [finish_answer(text, settings.first_line) for text in texts]


def finish_answer(text: str, first_line: bool = False) -> str:
    """A decoded answer as it is recorded and judged: stripped, and cut to its first line if asked. The
    lmms-eval hooks apply it to lmms-eval's answers too, so both paths judge the same text."""
    text = text.strip()
    return text.split("\n", 1)[0].strip() if first_line else text


def _shard(
    pending: Sequence[Question], rank: int, world: int, batch_size: int
) -> list[tuple[Question, bool]]:
    """This rank's (question, is_padding) list: every world-th question from `rank`, padded by repeating a
    question (flagged as padding, its answer discarded) to the same number of batches on every rank."""
    mine = [(q, False) for q in pending[rank::world]]
    longest = -(-len(pending) // world) if pending else 0
    batches = -(-longest // batch_size)
    target = batches * batch_size if world > 1 else len(mine)
    filler = pending[0] if pending else None
    while len(mine) < target and filler is not None:
        mine.append((filler, True))
    return mine


def _partial_path(path: Path, rank: int) -> Path:
    return path.with_name(f"{path.name}.rank{rank}{PARTIAL_SUFFIX}")


def _finished_answers(path: Path) -> dict[tuple[str, str], Answer]:
    """Answers already produced: the merged file, then any partial files an interrupted run left."""
    found: dict[tuple[str, str], Answer] = {}
    files = ([path] if path.exists() else []) + sorted(path.parent.glob(f"{path.name}.rank*{PARTIAL_SUFFIX}"))
    for file in files:
        for answer in read_answers(file, tolerate_torn_tail=True):
            found.setdefault(answer.key, answer)
    return found


# --------------------------------------------------------------------------------------------------
# From checkpoints and task files (the CLI's path)


class LoadedModel(NamedTuple):
    """A checkpoint ready to answer: `template`/`image_aspect` None for hub models (chat template)."""

    model: Any
    processor: Any
    template: str | None
    image_aspect: str | None


def load_model(
    model_path: str, *, dtype: str = "auto", device: str | None = None, template: str | None = None
) -> LoadedModel:
    """Load any image-text-to-text checkpoint for generation on this process's device.

    The template is `template` if given, else the one recorded in a safellava model's `safellava.json`
    (with its image preprocessing), else None: the processor's chat template.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from safellava.model.build import read_metadata

    metadata = (read_metadata(model_path) or {}) if Path(model_path).is_dir() else {}
    template = template or metadata.get("template")
    image_aspect = metadata.get("image_aspect")
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    try:
        model = AutoModelForImageTextToText.from_pretrained(model_path, dtype=torch_dtype)
        processor = AutoProcessor.from_pretrained(model_path)
    except OSError as error:
        raise FileNotFoundError(
            f"cannot load model {model_path!r}: {error}. Give a model folder, or a hub id already in the "
            f"local cache."
        ) from None
    model.to(device or distributed_state().device)
    return LoadedModel(model, processor, template, image_aspect)


def generate_task_answers(
    model: Any,
    processor: Any,
    task_set: TaskSet,
    image_paths: Mapping[str, Path],
    answers_dir: str | os.PathLike,
    *,
    model_id: str,
    template: str | None = None,
    image_aspect: str | None = None,
    settings: GenerationSettings = GenerationSettings(),
    show_progress: bool = True,
) -> dict[str, list[Answer]]:
    """Answer every task file of `task_set` into `answers_dir/<task file name>` (resumable); returns the
    answers grouped by task."""
    by_task: dict[str, list[Answer]] = {}
    for source, questions in task_set.files.items():
        answers = generate_answers(
            model,
            processor,
            questions,
            image_paths,
            model_id=model_id,
            template=template,
            image_aspect=image_aspect,
            settings=settings,
            answers_file=Path(answers_dir) / Path(source).name,
            show_progress=show_progress,
        )
        by_task.setdefault(questions[0].task, []).extend(answers)
    return by_task
