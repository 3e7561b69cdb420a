"""`run(stage, config, callbacks)`: the one seam through which every training run goes.

It checks the whole configuration first (`train.preflight`), builds or loads the model, applies the stage's
tune policy, builds the dataset, and hands everything to transformers' Trainer (via `LlavaTrainer`). Entry
points (`train/pretrain.py`, `train/finetune.py`), the demo and the tests all call it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainingArguments, set_seed

from safellava.atomic import write_text
from safellava.distributed import init_cpu_process_group_for_deepspeed
from safellava.errors import UserError
from safellava.model import (
    apply_tune_policy,
    build_llava,
    count_parameters,
    enable_gradient_checkpointing,
    load_llava,
    quantization_config,
)
from safellava.model.recipe import ModelRecipe
from safellava.model.tune_policy import TunePolicy
from safellava.prism.history_table import history_table
from safellava.prism.hook import ATTRIBUTE_CHART, HISTORY_CHART, read_history
from safellava.train.checkpoints import (
    CheckpointCompletionCallback,
    explain_disk_full,
    remove_stale_temporary_files,
    resolve_resume,
)
from safellava.train.config import RunConfig, dump_yaml
from safellava.train.preflight import check_training_inputs, preflight
from safellava.train.stages import Stage
from safellava.train.trackers import tracker_environment, wandb_note
from safellava.train.training_data import TrainingData, build_training_data, prepare_synthetic_data, rendering

logger = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"  # where a patch with `patch.output: merged` keeps its adapter, inside the output


@dataclass
class RunResult:
    stage: str
    output_dir: Path
    global_step: int
    train_loss: float | None
    log_history: list[dict[str, Any]]
    data: TrainingData
    notes: list[str]
    bf16: bool


def run(stage: str, config: RunConfig, callbacks: list[TrainerCallback] = ()) -> RunResult:
    """Train one stage; returns where the final model is and what happened."""
    # Every problem of the whole configuration, at once, before a process group, a model or a dataset exists.
    checked = preflight(stage, config)
    spec, recipe, training = checked.stage, checked.recipe, checked.training
    set_seed(config.seed)
    if init_cpu_process_group_for_deepspeed(bool(training.get("deepspeed"))):
        training["accelerator_config"] = {"use_configured_state": True}
    remove_stale_temporary_files(training["output_dir"])
    prepare_synthetic_data(config)
    check_training_inputs(config)
    # Built before the model so that a missing PRISM file stops the run in seconds, not after loading 7B.
    evaluator = _prism_evaluator(config, spec, recipe, training["output_dir"])
    model, processor, base_dir = initial_model(checked.policy, config, recipe, training["output_dir"])
    model = apply_tune_policy(model, recipe, checked.policy)
    if training.pop("gradient_checkpointing", False):
        enable_gradient_checkpointing(model)
    projector_lr = training.pop("projector_lr", None)
    trainer_args = TrainingArguments(**training)
    data = build_training_data(
        config, spec, recipe, processor, is_main_process=trainer_args.process_index == 0,
        problems_dir=Path(trainer_args.output_dir) / "data_problems",
    )
    if evaluator is not None:
        from safellava.prism.hook import PrismCallback

        callbacks = [PrismCallback(evaluator), *callbacks]
        if config.prism.stop_when is not None:
            from safellava.prism.stop_when import StopWhenTargetsMet

            callbacks.append(StopWhenTargetsMet(config.prism.stop_when))
    with tracker_environment(trainer_args.report_to, trainer_args.output_dir):
        trainer = _make_trainer(model, processor, trainer_args, data, config, stage, projector_lr, callbacks, evaluator)
        _log_start(trainer, model, data)
        resume = resolve_resume(config.resume_from_checkpoint, trainer_args.output_dir)
        output = trainer.train(resume_from_checkpoint=resume)
        notes = _save_final(trainer, processor, recipe, spec, config, base_dir, evaluator, data)
    return RunResult(
        stage=stage,
        output_dir=Path(trainer_args.output_dir),
        global_step=trainer.state.global_step,
        train_loss=output.training_loss,
        log_history=list(trainer.state.log_history),
        data=data,
        notes=notes,
        bf16=trainer_args.bf16,
    )


def initial_model(policy: TunePolicy, config: RunConfig, recipe: ModelRecipe, output_dir: str):
    """The model a stage starts from, and the base folder an adapter will refer to (None without LoRA).

    Sources: the recipe (built), a model folder (`init_from: <dir>`: a stage-1 output, or the trained
    model a patch starts from), or the recipe plus a projector file (`init_from: <file>`). An adapter
    needs its base on disk: the folder it was loaded from, or a copy saved to `<output_dir>/base` — for
    QLoRA the model is then reloaded from there in 4-bit, so the adapter's base is exactly the unquantized
    weights it was trained against.
    """
    quant = quantization_config(recipe) if policy.quantized else None
    source = Path(config.init_from) if config.init_from else None
    if source is not None and source.is_dir():
        if not (source / "config.json").exists():
            raise UserError(f"init_from: {source} is a folder without config.json; give a stage-1 output folder")
        model, processor = load_llava(str(source), dtype=recipe.dtype, quantization_config=quant, recipe=recipe)
        return model, processor, source.resolve() if policy.uses_lora else None
    if source is not None and not source.is_file():
        raise UserError(f"init_from: {source} does not exist (a stage-1 output folder or a projector file)")
    if recipe.checkpoint and policy.uses_lora and Path(recipe.checkpoint).is_dir():
        model, processor = load_llava(recipe.checkpoint, dtype=recipe.dtype, quantization_config=quant, recipe=recipe)
        return model, processor, Path(recipe.checkpoint).resolve()
    model, processor = build_llava(recipe, seed=config.seed)
    if source is not None:
        from safellava.model.projector_file import load_projector

        load_projector(model, source)
    if not policy.uses_lora:
        return model, processor, None
    base = _save_base(model, processor, Path(output_dir) / "base")
    if quant is not None:
        model, processor = load_llava(str(base), dtype=recipe.dtype, quantization_config=quant, recipe=recipe)
    return model, processor, base


def _save_base(model, processor, base: Path) -> Path:
    from safellava.distributed import distributed_state
    from safellava.model.build import save_llava

    state = distributed_state()  # the process group as the launcher set it up, CPU-only machines included
    if state.is_main_process and not (base / "config.json").exists():
        save_llava(model, processor, base)
    state.wait_for_everyone()
    return base.resolve()


def _prism_evaluator(config: RunConfig, spec: Stage, recipe: ModelRecipe, output_dir: str):
    if config.prism is None:
        return None
    from safellava.prism.hook import PrismEvaluator

    template, aspect = rendering(config, spec, recipe)
    return PrismEvaluator(config.prism, template=template, image_aspect=aspect, output_dir=output_dir)


def _make_trainer(model, processor, args, data: TrainingData, config, stage, projector_lr, callbacks, evaluator):
    from safellava.train.trainer import LlavaTrainer

    resolved = dump_yaml(config, extra={"stage": stage})
    return LlavaTrainer(
        model=model,
        args=args,
        train_dataset=data.dataset,
        # Trainer insists on an eval dataset when `eval_strategy` is set (needed for best-checkpoint
        # selection); with the PRISM hook the evaluation data are its questions.
        eval_dataset=evaluator.questions if evaluator is not None else None,
        prism_evaluator=evaluator,
        data_collator=data.collator,
        processing_class=processor,
        callbacks=[CheckpointCompletionCallback(resolved), *callbacks],
        projector_lr=projector_lr,
        sampler_factory=data.sampler_factory,
    )


def _log_start(trainer, model, data: TrainingData) -> None:
    if not trainer.is_world_process_zero():
        return
    print(f"[safellava] parameters per module:\n{count_parameters(model).table()}", flush=True)
    print(f"[safellava] {data.summary()}", flush=True)


def _save_final(
    trainer, processor, recipe: ModelRecipe, spec: Stage, config: RunConfig, base_dir: Path | None, evaluator,
    data: TrainingData,
):
    """Final output: a plain HF folder (or adapter + base) with processor, safellava.json, resolved config."""
    from safellava.model.chat_template import attach_chat_template
    from safellava.model.build import write_metadata
    from safellava.model.projector_file import save_projector_from_folder
    from safellava.train.checkpoints import RUN_CONFIG_FILE

    out = Path(trainer.args.output_dir)
    model = trainer.model
    if base_dir is not None:
        model.peft_config["default"].base_model_name_or_path = str(base_dir)
    merged = base_dir is not None and spec.name == "patch" and config.patch_settings.output == "merged"
    with explain_disk_full(out):
        trainer.save_model(str(out / ADAPTER_DIR if merged else out))  # gathers 16-bit weights under ZeRO-3
    notes = []
    data_note = data.summary()  # after training: includes what data-loader workers skipped
    if trainer.is_world_process_zero():
        attach_chat_template(processor, spec.template(recipe))  # so chat-template tools prompt it as trained
        processor.save_pretrained(str(out))
        if merged:
            from safellava.train.export import export_model

            with explain_disk_full(out):
                export_model(out / ADAPTER_DIR, out, merge_lora=True, dtype=recipe.dtype)
        write_metadata(out, recipe, {"template": spec.template(recipe), "stage": spec.name,
                                     "adapter": base_dir is not None and not merged,
                                     "global_step": trainer.state.global_step})
        write_text(out / RUN_CONFIG_FILE, dump_yaml(config, extra={"stage": spec.name}))
        if spec.name == "pretrain":
            save_projector_from_folder(out)
        notes.append(data_note)
        notes.append(f"final model: {out}")
        checkpoints = sorted(out.glob("checkpoint-*"))
        if checkpoints:
            notes.append(f"checkpoints: {', '.join(str(c) for c in checkpoints)} (resume with resume_from_checkpoint=auto)")
        if evaluator is not None:
            notes.append(
                f"PRISM reports: {evaluator.root}/ (per evaluation summary.json); chart: {evaluator.root / HISTORY_CHART}, "
                f"per attribute: {evaluator.root / ATTRIBUTE_CHART}"
            )
        if merged:
            notes.append(f"LoRA adapter merged into base {base_dir}: a plain model folder (the adapter: {out / ADAPTER_DIR})")
        elif base_dir is not None:
            notes.append(f"LoRA adapter on base {base_dir}; merge with: safellava export {out} --merge-lora --out <dir>")
        note = wandb_note() if "wandb" in (trainer.args.report_to or []) else None
        if note:
            notes.append(note)
        if evaluator is not None:
            # The end of the run answers "is it safe, and does it still answer?" first, then says where things are.
            table = history_table(read_history(evaluator.root))
            print(f"[safellava] PRISM during training ({_subset(evaluator)}):\n{table}", flush=True)
        for line in notes:
            print(f"[safellava] {line}", flush=True)
    return notes


def _subset(evaluator) -> str:
    limit = evaluator.config.limit
    questions = f"{limit} questions per task" if limit else "every question"
    return f"{questions}, {evaluator.judge.name} judge, percent"
