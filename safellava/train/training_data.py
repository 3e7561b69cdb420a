"""The training data of a run: dataset, collator and sampler, built from the run config's `data:` section."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from safellava.errors import UserError
from safellava.model.processor import image_token_count
from safellava.model.recipe import ModelRecipe
from safellava.train.config import RunConfig
from safellava.train.stages import Stage

logger = logging.getLogger(__name__)


@dataclass
class TrainingData:
    dataset: Any
    collator: Any
    sampler_factory: Callable[..., Any]
    template: str
    image_aspect: str
    cleaned_on_the_fly: dict[str, int] | None = None  # what `data.privacy: clean` changes, counted once
    patch_mix: Any = None  # the patch stage's `safellava.data.patch_mix.PatchMix`

    def summary(self) -> str:
        """The validation summary, including problems that data-loader workers met while training."""
        from safellava.data.dataset import collect_report

        report = collect_report(self.dataset)
        cleaning = ""
        if self.patch_mix is not None:
            cleaning = f"; {self.patch_mix.summary()}"
        elif self.cleaned_on_the_fly is not None:
            counts = self.cleaned_on_the_fly
            cleaning = (f"; cleaned on the fly (data.privacy: clean): {counts.get('records_changed', 0)} records, "
                        f"{counts.get('explicit-refusal', 0)} refusals, {counts.get('implicit-rewrite', 0)} rewrites, "
                        f"{counts.get('all-biometric-refusal', 0)} all-biometric answers refused")
        return (
            f"training data: {len(self.dataset)} samples (template {self.template}, images {self.image_aspect})"
            f"{cleaning}; validation: {report.summary()}"
        )


def rendering(config: RunConfig, spec: Stage, recipe: ModelRecipe) -> tuple[str, str]:
    """(template, image aspect) a run renders its data with — and prompts its PRISM evaluations with."""
    return config.data.template or spec.template(recipe), config.data.image_aspect or spec.image_aspect(recipe)


def build_training_data(
    config: RunConfig, spec: Stage, recipe: ModelRecipe, processor, *, is_main_process: bool, problems_dir: Path
) -> TrainingData:
    from safellava.data.dataset import SupervisedDataset
    from safellava.data.sampler import ModalityLengthGroupedSampler
    from safellava.distributed import distributed_state

    data = config.data
    if data.max_image_pixels is not None:
        from safellava.data.images import set_max_image_pixels

        set_max_image_pixels(data.max_image_pixels)
        os.environ["SAFELLAVA_MAX_IMAGE_PIXELS"] = str(data.max_image_pixels)  # data-loader workers too
    with distributed_state().main_process_first():
        template, aspect = rendering(config, spec, recipe)
        tokens_per_image = image_token_count(processor)
        source, cleaned, mix = _records(config, spec)
        dataset = SupervisedDataset(
            source,  # DataFile entries, checked by the preflight
            template=template,
            tokenizer=processor.tokenizer,
            image_processor=processor.image_processor,
            image_folder=data.image_folder,
            image_token_count=tokens_per_image,
            model_max_length=data.model_max_length,
            image_aspect=aspect,
            validation=data.validation,
            progress=is_main_process,
            # Problems found while building samples inside data-loader workers (an image that will not
            # decode, answers truncated away) are written here, so the run can count them at the end.
            problems_dir=problems_dir,
        )
    collator = dataset.make_collator()
    lengths = dataset.modality_lengths()

    def sampler_factory(batch_size: int, world_size: int, seed: int):
        return ModalityLengthGroupedSampler(lengths, batch_size=batch_size, world_size=world_size, rank=None, seed=seed)

    return TrainingData(dataset, collator, sampler_factory, template, aspect, cleaned, mix)


def _records(config: RunConfig, spec: Stage) -> tuple[Any, dict[str, int] | None, Any]:
    """The run's records, cleaned as they are read under `data.privacy: clean` — with what cleaning changes,
    counted once here (every record through the rules, ≈0.1 ms each) for the run summary. The patch stage
    trains on its patch mix, chosen in that same pass."""
    from safellava.data.record_index import open_records

    source = open_records(config.data.files)
    if spec.name == "patch":
        from safellava.data.patch_mix import build_patch_mix

        mix = build_patch_mix(source, config.patch_settings.replay_ratio, seed=config.seed)
        if not mix.touching:
            raise UserError(f"patch: no record of data.files touches people (cleaning changes none, no question asks "
                            f"for a biometric attribute), so there is nothing to patch; {mix.summary()}")
        return mix.records, mix.cleaning, mix
    if (config.data.privacy or spec.privacy) != "clean":
        return source, None, None
    from safellava.data.cleaned_records import CleanedRecords

    counting = CleanedRecords(source)
    for index in range(len(source)):
        if not source.problem_mask[index]:
            counting.record(index)
    return CleanedRecords(source), dict(counting.counts), None


SAFE_SUFFIX = ".safe.json"


def prepare_synthetic_data(config: RunConfig) -> None:
    """Generate `data.synth`'s world (and its cleaned version) once, on the main process, before training."""
    if config.data.synth is None:
        return
    from safellava.distributed import distributed_state

    # distributed_state(), not a bare PartialState(): on a CPU-only machine the latter believes every
    # process is the main one, and two ranks would write the same files at once.
    with distributed_state().main_process_first():
        _generate_synth(config.data.synth)


def _generate_synth(settings: dict[str, Any]) -> None:
    """The demo's data: generate the synthetic world where it is missing (idempotent, seconds), and with
    `clean: true` also its Safe-LLaVA-style version (`pretrain.safe.json`, `finetune.safe.json`) made by
    `safellava clean`, the same tool users run on their own data."""
    from safellava.synth import generate_world

    settings = dict(settings)
    out = settings.pop("out", None)
    clean = bool(settings.pop("clean", False))
    if not out:
        raise UserError("`data.synth` needs `out` (the folder to generate the synthetic world into)")
    world = generate_world(Path(out), **settings)
    if clean:
        from safellava.privacy.clean import clean_file

        for raw in (world.pretrain, world.finetune):
            safe = raw.with_name(raw.stem + SAFE_SUFFIX)
            if not safe.exists() or safe.stat().st_mtime < raw.stat().st_mtime:
                partial = safe.with_name(f"{safe.name}.partial-{os.getpid()}")
                clean_file(str(raw), str(partial), progress=False)
                partial.replace(safe)  # a reader never sees a half-written file
