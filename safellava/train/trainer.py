"""transformers' Trainer with the three things LLaVA training needs beyond it, and nothing more.

1. The modality-aware length-grouped sampler (image and text-only samples in separate batches, similar
   lengths together), from `safellava.data.sampler`.
2. An optional separate learning rate for the projector (LLaVA LoRA: 2e-4 for adapters, 2e-5 projector).
3. A tokens/s figure in every log line, for the trackers.
The training loop itself is Trainer's, untouched.
"""

from __future__ import annotations

import time

import torch
from transformers import Trainer

from safellava.model.module_map import part_of


class LlavaTrainer(Trainer):
    def __init__(self, *args, projector_lr: float | None = None, sampler_factory=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.projector_lr = projector_lr
        self.sampler_factory = sampler_factory
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

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        seen = self.state.num_input_tokens_seen
        now = time.monotonic()
        last_time, last_seen = self._last_log
        if seen and "loss" in logs and now > last_time:
            # Tokens of all ranks per second since the previous log line, padding included.
            logs["tokens_per_second"] = round((seen - last_seen) / (now - last_time), 1)
        self._last_log = (now, seen)
        super().log(logs, *args, **kwargs)
