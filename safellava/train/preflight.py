"""The one check of a whole run, before any process group, model or dataset exists.

`preflight(stage, config)` reads the model recipe, merges the stage's training defaults into the run
config's `training:` and checks them against transformers' `TrainingArguments` (its annotations, the
ranges below, then its own consistency checks, run without touching a device), and checks every file the
run will read: data files (present and not empty), the image folder, the PRISM hook's tasks and images (and
its `stop_when` targets), `init_from` (for the patch stage: a whole trained model), an explicit resume
checkpoint and the DeepSpeed config; it resolves the stage's tune policy. Every problem is collected and raised
as one `ConfigError`, each naming the file or command-line override, the key, the value and what is
allowed, so a bad setting costs seconds, not the minutes of loading a 7B model on a cluster.

Paths under `data.synth.out` are made by the run itself; `check_training_inputs` checks them once the
synthetic data exist, together with the record-by-record checks of `data.validation: strict`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import TrainingArguments

from safellava.config import MISSING, ConfigError, Problems, Range, add_unknown_keys, check_value, close_match
from safellava.model.recipe import ModelRecipe, read_model_recipe
from safellava.model.tune_policy import TunePolicy
from safellava.train.checkpoints import MARKER_FILE, is_complete
from safellava.train.config import RunConfig
from safellava.train.hardware import resolve_bf16
from safellava.train.stages import STAGES, Stage
from safellava.train.trackers import normalise_report_to

# `training:` keys that are safellava's, not TrainingArguments fields, with their types.
OUR_TRAINING_KEYS: dict[str, Any] = {"projector_lr": float | None}

# What transformers accepts but no run should use: a wrong value here stops the run before it starts.
TRAINING_RANGES: dict[str, Range] = {
    "learning_rate": Range(above=0),
    "projector_lr": Range(above=0),
    "per_device_train_batch_size": Range(at_least=1),
    "per_device_eval_batch_size": Range(at_least=1),
    "gradient_accumulation_steps": Range(at_least=1),
    "num_train_epochs": Range(at_least=0, note="0 = a dry run that trains nothing"),
    "max_steps": Range(at_least=-1, note="-1 = as many as num_train_epochs makes; 0 = a dry run"),
    "warmup_steps": Range(at_least=0, note="below 1: a fraction of all steps"),
    "weight_decay": Range(at_least=0),
    "max_grad_norm": Range(at_least=0),
    "logging_steps": Range(above=0),
    "save_steps": Range(above=0),
    "eval_steps": Range(above=0),
    "save_total_limit": Range(at_least=0, note="0 or null keeps every checkpoint"),
    "dataloader_num_workers": Range(at_least=0),
    "seed": Range(at_least=0),
}


@dataclass
class CheckedRun:
    """What the preflight resolved, for `run()` to use as it is."""

    stage: Stage
    recipe: ModelRecipe
    training: dict[str, Any]  # TrainingArguments keywords, plus projector_lr and gradient_checkpointing
    policy: TunePolicy  # what the stage trains (the recipe's policy, or the stage's own)


def preflight(stage: str, config: RunConfig) -> CheckedRun:
    """Check the whole run; a `ConfigError` lists every problem at once."""
    problems = Problems()
    problems.extend(config.problems)
    if stage not in STAGES:
        problems.add("the caller of run()", "stage", stage, f"one of {', '.join(STAGES)}")
        problems.raise_if_any()
    spec = STAGES[stage]
    recipe = read_model_recipe(config.model, problems, origins=config.origins)
    training = training_arguments(spec, config, problems)
    made_by_run = _synth_folder(config, problems)
    _check_data_files(config, made_by_run, problems)
    _check_prism(config, made_by_run, problems)
    _check_start(spec, config, made_by_run, problems)
    _check_patch(spec, recipe, config, made_by_run, problems)
    policy = None
    if recipe is not None:
        policy = spec.tune_policy(recipe, config.patch_settings.tune)
        _check_attention(recipe, problems)
        _check_deepspeed(policy, training, config, problems)
    problems.raise_if_any()
    return CheckedRun(spec, recipe, training, policy)


def check_training_inputs(config: RunConfig) -> None:
    """Once `data.synth` has run: the data and PRISM files exist and are not empty; under
    `data.validation: strict` every record is checked (structure, image files) so that a bad one stops the
    run before the model is built."""
    problems = Problems()
    _check_data_files(config, None, problems)
    _check_prism(config, None, problems)
    problems.raise_if_any()
    if config.data.validation == "strict":
        _check_records_strictly(config)


# ------------------------------------------------------------------------------------------------ training


def training_arguments(spec: Stage, config: RunConfig, problems: Problems) -> dict[str, Any]:
    """Stage defaults ← the config's `training:`, each value checked; `bf16: auto` resolved."""
    training = {**spec.training_defaults(), **config.training}

    def origin(key: str) -> str:
        if key in config.training:
            return config.origins.of(f"training.{key}")
        return f"the {spec.name} stage's defaults (safellava/train/stages.py)"

    hints = _training_types()
    before = len(problems)
    for key, value in training.items():
        if key not in hints:
            problems.add(
                origin(key), f"training.{key}", value,
                f"a transformers.TrainingArguments field or one of {', '.join(OUR_TRAINING_KEYS)}{close_match(key, hints)}",
            )
            continue
        check_value(value, hints[key], key=f"training.{key}", origin=origin(key), problems=problems, range=TRAINING_RANGES.get(key))
    if not training.get("output_dir"):
        problems.add(origin("output_dir"), "training.output_dir", training.get("output_dir", MISSING),
                     "a folder for the checkpoints and the final model")
    if "seed" in config.training and config.training["seed"] != config.seed:
        problems.add(origin("seed"), "training.seed", config.training["seed"],
                     f"the top-level `seed` ({config.seed}) seeds the whole run, model initialisation included; set `seed`")
    training["seed"] = config.seed
    if len(problems) == before:
        training["bf16"] = resolve_bf16(training.get("bf16"), deepspeed=bool(training.get("deepspeed")))
        if not torch.cuda.is_available() and not training.get("deepspeed"):
            training.setdefault("use_cpu", True)  # several CPU processes then form a gloo group
        training["report_to"] = normalise_report_to(training.get("report_to"))
        _check_with_transformers(training, origin, problems)
    return training


@functools.lru_cache(maxsize=1)
def _training_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainingArguments)
    fields = {name: hints[name] for name in TrainingArguments.__dataclass_fields__ if name in hints}
    fields["bf16"] = bool | Literal["auto"]  # auto: on where the GPU or CPU supports it
    return {**fields, **OUR_TRAINING_KEYS}


class _ArgumentsWithoutDevices(TrainingArguments):
    """TrainingArguments whose consistency checks run without setting up devices: the real construction
    creates accelerate's state (and on a multi-GPU launch the process group), which must wait until the
    whole configuration is known to be good."""

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")


def _check_with_transformers(training: dict[str, Any], origin, problems: Problems) -> None:
    # DeepSpeed's file is checked below; trackers are not started by a check.
    keywords = {k: v for k, v in training.items() if k not in (*OUR_TRAINING_KEYS, "deepspeed")}
    keywords["report_to"] = "none"
    try:
        _ArgumentsWithoutDevices(**keywords)
    except (ValueError, TypeError, NotImplementedError) as error:
        mentions = {key: re.search(rf"\b{re.escape(key)}\b", str(error)) for key in training}
        named = sorted((key for key, found in mentions.items() if found), key=lambda key: mentions[key].start())
        key = named[0] if named else "output_dir"
        problems.add(origin(key), f"training.{key}" if named else "training", training.get(key) if named else "(these settings together)",
                     f"rejected by transformers.TrainingArguments: {' '.join(str(error).split())}")


# ------------------------------------------------------------------------------------------------ files


def _synth_folder(config: RunConfig, problems: Problems) -> Path | None:
    """The folder `data.synth` generates into (its paths are checked after generation), with its keys checked."""
    settings = config.data.synth
    if settings is None:
        return None
    from safellava.synth import generate_world

    accepted = [name for name in inspect.signature(generate_world).parameters if name != "out_dir"]
    add_unknown_keys(settings, ["out", "clean", *accepted], prefix="data.synth.", origins=config.origins, problems=problems)
    if not settings.get("out"):
        problems.add(config.origins.of("data.synth"), "data.synth.out", settings.get("out", MISSING),
                     "the folder to generate the synthetic world into")
        return None
    return Path(settings["out"]).resolve()


def _made_by(folder: Path | None, path: str) -> bool:
    return folder is not None and Path(path).resolve().is_relative_to(folder)


def _check_data_files(config: RunConfig, made_by_run: Path | None, problems: Problems) -> None:
    data = config.data
    if not data.files:
        problems.add(config.origins.of("data.files"), "data.files", [],
                     "at least one LLaVA JSON/JSONL file to train on (a path or {path, weight})")
    for position, entry in enumerate(data.files):
        if _made_by(made_by_run, entry.path):
            continue
        allowed = data_source_problem(entry.path)
        if allowed:
            key = f"data.files[{position}]"
            problems.add(config.origins.of(key), key, entry.path, allowed)
    folder = data.image_folder
    if folder and not _made_by(made_by_run, folder) and not Path(folder).is_dir():
        problems.add(config.origins.of("data.image_folder"), "data.image_folder", folder,
                     "an existing folder (the records' image paths are relative to it)")


_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+(:[\w.-]+)?")


def data_source_problem(spec: str) -> str | None:
    """What is wrong with a data source that can be told without reading it, or None: a local file must
    exist and hold at least one record. Hub sources are checked when they are opened."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return None  # a `datasets` folder (save_to_disk)
    if path.is_file():
        fault = _fault_before_any_record(path)
        return f"a LLaVA JSON/JSONL file with at least one record; {fault}" if fault else None
    if spec.startswith("hf://datasets/") or (_HUB_ID.fullmatch(spec) and not Path(spec.partition(":")[0]).suffix):
        return None
    return ("an existing LLaVA .json/.jsonl file (or a datasets folder, hf://datasets/<owner>/<name>/<file>, or a "
            "Hub dataset id <owner>/<name>); there is no such file")


def _fault_before_any_record(path: Path) -> str | None:
    """Why `path` holds no readable record at all (empty, `[]`, not JSON), read by the one LLaVA reader as
    far as its first record; None when it has one."""
    from safellava.records import ReadFault, read_records

    first = next(iter(read_records(path)), None)
    return first.detail.removeprefix(f"{path}: ") if isinstance(first, ReadFault) else None


def _check_records_strictly(config: RunConfig) -> None:
    from safellava.data.check import check_records
    from safellava.data.validate import DataValidationError

    for entry in config.data.files:
        report = check_records(entry.path, config.data.image_folder, image_check="exists", progress=False)
        if report.problems:
            raise DataValidationError(report.problems[0])


def _check_prism(config: RunConfig, made_by_run: Path | None, problems: Problems) -> None:
    hook = config.prism
    if hook is None:
        return
    for position, path in enumerate(hook.tasks):
        if not _made_by(made_by_run, path) and not Path(path).exists():
            key = f"prism.tasks[{position}]"
            problems.add(config.origins.of(key), key, path,
                         "an existing PRISM task file or folder (or a synthetic world's prism/ folder); `prism: null` disables the hook")
    if not _made_by(made_by_run, hook.images) and not Path(hook.images).is_dir():
        problems.add(config.origins.of("prism.images"), "prism.images", hook.images, "an existing folder of PRISM images")
    misspelt = any(problem.key.startswith("prism.stop_when.") for problem in config.problems)
    if hook.stop_when is not None and hook.stop_when.is_empty() and not misspelt:
        problems.add(config.origins.of("prism.stop_when"), "prism.stop_when", {},
                     "at least one of refusal_min, sentence_protection_min, over_refusal_max, benign_accuracy_min "
                     "(percentages), or null to train the whole budget")
    from safellava.prism.judges import build_judge

    options = [name for name in inspect.signature(build_judge).parameters if name != "kind"]
    add_unknown_keys(hook.judge_options, options, prefix="prism.judge_options.", origins=config.origins, problems=problems)


def _check_start(spec: Stage, config: RunConfig, made_by_run: Path | None, problems: Problems) -> None:
    """Where the weights and the training state come from (the patch stage's start: `_check_patch`)."""
    source = config.init_from
    if source and spec.name != "patch" and not _made_by(made_by_run, source):
        path = Path(source)
        if not path.exists() or (path.is_dir() and not (path / "config.json").exists()):
            problems.add(config.origins.of("init_from"), "init_from", source,
                         "a stage-1 output folder (with config.json) or a projector file")
    resume = config.resume_from_checkpoint
    if resume not in (None, "auto"):
        folder = Path(resume)
        if not folder.is_dir() or not is_complete(folder):
            problems.add(config.origins.of("resume_from_checkpoint"), "resume_from_checkpoint", resume,
                         f"auto, null, or a checkpoint-<step> folder whose save finished (with {MARKER_FILE})")


def _check_patch(spec: Stage, recipe: ModelRecipe | None, config: RunConfig, made_by_run: Path | None, problems: Problems) -> None:
    """The patch stage starts from a whole trained model and trains on the Safe version of the records; its
    `patch:` section means nothing to the other stages."""
    if spec.name != "patch":
        if config.patch is not None:
            problems.add(config.origins.of("patch"), "patch", dataclasses.asdict(config.patch),
                         f"only the patch stage (train/patch.py) reads it; remove it for the {spec.name} stage")
        return
    if config.data.privacy == "none":
        problems.add(config.origins.of("data.privacy"), "data.privacy", "none",
                     "clean or left out: the patch stage trains on the Safe version of the records that touch people")
    source = config.init_from
    if not source:
        if recipe is not None and not recipe.checkpoint:
            problems.add(config.origins.of("init_from"), "init_from", MISSING,
                         "the trained LLaVA to patch: a llava-hf style folder or a safellava output folder (or a "
                         "model recipe with `checkpoint`)")
        return
    path = Path(source)
    if _made_by(made_by_run, source) or (path / "config.json").is_file():
        return
    if (path / "adapter_config.json").is_file():
        allowed = (f"a whole model folder; {source} holds a LoRA adapter: merge it first with "
                   f"`safellava export {source} --merge-lora --out <dir>` and patch that")
    else:
        allowed = "a llava-hf style folder or a safellava output folder (with config.json): the trained LLaVA to patch"
    problems.add(config.origins.of("init_from"), "init_from", source, allowed)


def _check_attention(recipe: ModelRecipe, problems: Problems) -> None:
    from safellava.model.build import attention_settings

    try:
        attention_settings(recipe)
    except ConfigError as error:
        problems.extend(error.problems)


def _check_deepspeed(policy: TunePolicy, training: dict[str, Any], config: RunConfig, problems: Problems) -> None:
    file = training.get("deepspeed")
    if not file or not isinstance(file, str):
        return
    origin = config.origins.of("training.deepspeed")
    try:
        settings = json.loads(Path(file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.add(origin, "training.deepspeed", file, "an existing DeepSpeed JSON file (see configs/deepspeed/)")
        return
    except (ValueError, OSError) as error:
        problems.add(origin, "training.deepspeed", file, f"a readable DeepSpeed JSON file ({error})")
        return
    if training.get("projector_lr") is not None and "optimizer" in settings:
        problems.add(config.origins.of("training.projector_lr"), "training.projector_lr", training["projector_lr"],
                     f"null with {file}: projector_lr needs the trainer's own optimizer, but that file defines a DeepSpeed "
                     "optimizer (which would silently ignore it); use configs/deepspeed/zero3.json or drop projector_lr")
    zero_stage = (settings.get("zero_optimization") or {}).get("stage")
    if policy.quantized and zero_stage == 3:
        problems.add(origin, "training.deepspeed", file,
                     "a ZeRO-2 file (configs/deepspeed/zero2.json) or none: QLoRA with ZeRO-3 is not supported here "
                     "(4-bit weights cannot be partitioned by this setup)")
