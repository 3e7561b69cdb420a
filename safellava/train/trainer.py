"""transformers' Trainer with what LLaVA training needs beyond it, and nothing more.

1. The modality-aware length-grouped sampler (image and text-only samples in separate batches, similar
   lengths together), from `safellava.data.sampler`.
2. An optional separate learning rate for the projector (LLaVA LoRA: 2e-4 for adapters, 2e-5 projector).
3. A tokens/s figure in every log line, for the trackers.
4. PRISM as the evaluation (`safellava.prism.hook`), when the run has a `prism:` section.
5. Weight loading on resume and for the best checkpoint that honours transformers' key conversion.
6. Checkpoint rotation after the new checkpoint is marked complete (`train.checkpoints`), and a full disk
   named as such.
The training loop itself is Trainer's, untouched.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import Trainer

from safellava.model.module_map import part_of
from safellava.train.checkpoints import explain_disk_full


class LlavaTrainer(Trainer):
    def __init__(self, *args, projector_lr: float | None = None, sampler_factory=None, prism_evaluator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.projector_lr = projector_lr
        self.sampler_factory = sampler_factory
        self.prism_evaluator = prism_evaluator
        self._last_log = (time.monotonic(), 0)

    def _get_train_sampler(self, train_dataset=None) -> torch.utils.data.Sampler | None:
        if self.sampler_factory is None:
            return super()._get_train_sampler(train_dataset)
        # The sampler yields the global order (rank 0's shard of each global batch first); accelerate deals
        # per-device batch k to process k mod world_size, so each rank's batch is of one modality.
        return self.sampler_factory(
            batch_size=self.args.per_device_train_batch_size, world_size=self.args.world_size, seed=self.args.seed
        )

    def create_optimizer(self, model=None):
        if self.projector_lr is None or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
        for name, parameter in opt_model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault((part_of(name) == "projector", name in decay), []).append(parameter)
        param_groups = [
            {
                "params": params,
                "weight_decay": self.args.weight_decay if decayed else 0.0,
                **({"lr": self.projector_lr} if is_projector else {}),
            }
            for (is_projector, decayed), params in sorted(groups.items())
        ]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """With a PRISM evaluator, evaluation *is* PRISM: its figures are logged as `prism/...` at the current
        step and returned as `eval_prism/...` for best-checkpoint selection and early stopping."""
        if self.prism_evaluator is None:
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        figures = self.prism_evaluator.evaluate(self.model, self.processing_class, self.state, self.args)
        self.log(dict(figures))
        metrics = {f"{metric_key_prefix}_{key}": value for key, value in figures.items()}
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _save_checkpoint(self, model, trial) -> None:
        # Trainer deletes old checkpoints (save_total_limit) at the end of this call, before
        # CheckpointCompletionCallback has marked the new one complete: a kill in between would leave no
        # complete checkpoint. The callback rotates instead, right after the marker is written.
        limit, self.args.save_total_limit = self.args.save_total_limit, None
        try:
            with explain_disk_full(self.args.output_dir):
                super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        model = self.model if model is None else model
        if not self._needs_converted_loading(resume_from_checkpoint, model):
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        _load_weights_through_from_pretrained(model, resume_from_checkpoint)

    def _load_best_model(self) -> None:
        if not self._needs_converted_loading(self.state.best_model_checkpoint, self.model):
            return super()._load_best_model()
        _load_weights_through_from_pretrained(self.model, self.state.best_model_checkpoint)

    def _needs_converted_loading(self, folder: str, model) -> bool:
        # DeepSpeed restores its own engine states and peft its adapter files: both use in-memory key names.
        plain = not (self.is_deepspeed_enabled or self.is_fsdp_enabled or hasattr(model, "peft_config"))
        return plain and Path(folder, "config.json").exists()

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        seen = self.state.num_input_tokens_seen
        now = time.monotonic()
        last_time, last_seen = self._last_log
        if seen and "loss" in logs and now > last_time:
            # Tokens of all ranks per second since the previous log line, padding included.
            logs["tokens_per_second"] = round((seen - last_seen) / (now - last_time), 1)
        self._last_log = (now, seen)
        super().log(logs, *args, **kwargs)


def _load_weights_through_from_pretrained(model, folder: str) -> None:
    """transformers saves LLaVA in the hub layout (`language_model.model.*`, `multi_modal_projector.*`) but
    Trainer's resume loads that file with `load_state_dict(strict=False)`, without renaming keys back to
    the in-memory layout (`model.language_model.*`): nothing matches, a warning is logged, and training
    silently continues from the current weights. `from_pretrained` applies the renaming; copy from it."""
    dtype = next(model.parameters()).dtype
    saved = type(model).from_pretrained(folder, dtype=dtype)
    model.load_state_dict(saved.state_dict(), strict=True)
    del saved
