"""The LLaVA training stages: what each trains, how it renders data, and its default hyper-parameters.

Stage 1 (pretrain) aligns a new projector to a frozen vision tower and frozen LLM on captions (`plain`
template). Stage 2 (finetune) tunes per the model recipe's policy (full / LoRA / QLoRA) on instruction
data with the recipe's conversation template. Defaults are LLaVA-1.5's published ones (1 epoch, cosine
schedule with 3 % warm-up, no weight decay; learning rate 1e-3 for stage 1 and 2e-5 for stage 2);
anything in the run config's `training:` section overrides them.

The patch stage takes an already trained LLaVA (`init_from`) and teaches it not to read biometric
attributes: a LoRA adapter on the language model by default (`patch.tune`), trained on the patch mix
(`safellava.data.patch_mix`) with stage 2's template and images, at LLaVA's LoRA learning rate (2e-4) for
one pass over the mix unless `training.max_steps` sets a smaller budget (docs/patch.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from safellava.model.recipe import ModelRecipe
from safellava.model.tune_policy import TunePolicy

# Trainer settings every safellava run needs, whatever the stage.
_COMMON_DEFAULTS: dict[str, Any] = {
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.03,  # a float below 1 is a ratio of all steps (LLaVA: 3 % warm-up)
    "num_train_epochs": 1,
    "logging_steps": 10,
    "save_strategy": "steps",
    "save_steps": 500,
    "save_total_limit": 2,
    "report_to": "wandb",
    "bf16": "auto",
    "remove_unused_columns": False,  # our batches carry pixel_values etc. the model signature check drops
    "dataloader_num_workers": 2,
    "include_num_input_tokens_seen": True,  # feeds the tokens/s figure
}


@dataclass(frozen=True)
class Stage:
    name: str
    defaults: dict[str, Any] = field(default_factory=dict)

    def training_defaults(self) -> dict[str, Any]:
        return {**_COMMON_DEFAULTS, **self.defaults}

    def tune_policy(self, recipe: ModelRecipe, patch_tune: str = "lora") -> TunePolicy:
        """What this stage trains; `patch_tune` is the patch stage's `patch.tune` (lora | recipe)."""
        if self.name == "pretrain":
            # Only the projector learns in stage 1, whatever the recipe says for stage 2.
            return TunePolicy(vision_tower="frozen", projector="full", language_model="frozen", lm_head="frozen")
        if self.name == "patch" and patch_tune == "lora":
            # The smallest change that alters what the model says: an adapter on the language model, the
            # vision tower and projector as they were (QLoRA stays QLoRA when the recipe asks for it).
            adapter = recipe.tune.language_model if recipe.tune.uses_lora else "lora"
            return TunePolicy(vision_tower="frozen", projector="frozen", language_model=adapter, lm_head="frozen")
        return recipe.tune

    @property
    def privacy(self) -> str:
        """`data.privacy` when the run config leaves it out: the patch mix is the records' Safe version."""
        return "clean" if self.name == "patch" else "none"

    def template(self, recipe: ModelRecipe) -> str:
        return "plain" if self.name == "pretrain" else recipe.template

    def image_aspect(self, recipe: ModelRecipe) -> str:
        # LLaVA-1.5 resizes/center-crops in stage 1 and pads to a square in stage 2.
        return "resize" if self.name == "pretrain" else recipe.image_aspect


STAGES = {
    "pretrain": Stage("pretrain", {"learning_rate": 1e-3, "weight_decay": 0.0}),
    "finetune": Stage("finetune", {"learning_rate": 2e-5, "weight_decay": 0.0}),
    "patch": Stage("patch", {"learning_rate": 2e-4, "weight_decay": 0.0}),
}
