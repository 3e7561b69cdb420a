"""What a reproduction runs (its sizes, `Plan`) and where it writes (`Layout`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VARIANTS = ("baseline", "safe", "patched")  # every model the reproduction evaluates and compares
RETRAINED = ("baseline", "safe")  # the variants trained from scratch (stage 1, then stage 2)
# The stage whose output is each variant's final model: patched is the baseline's stage-2 model patched.
FINAL_STAGE = {"baseline": "finetune", "safe": "finetune", "patched": "patch"}


@dataclass(frozen=True)
class Plan:
    """The sizes of one reproduction. The retrained variants use exactly the same plan; only their data differ."""

    name: str
    train_images: int
    eval_images: int
    benign_per_image: int
    pretrain_overrides: tuple[str, ...] = ()  # key=value overrides of configs/recipes/reproduce-pretrain.yaml
    finetune_overrides: tuple[str, ...] = ()  # ... of configs/recipes/reproduce-finetune.yaml
    patch_overrides: tuple[str, ...] = ()  # ... of configs/recipes/reproduce-patch.yaml
    max_new_tokens: int = 200  # final PRISM evaluation (PRISM's own value)
    batch_size: int = 16


FULL = Plan("full", train_images=3200, eval_images=100, benign_per_image=5)

# CI: the `tiny` model and a handful of steps — checks the plumbing and the report, not the finding.
FAST = Plan(
    "fast",
    train_images=32,
    eval_images=3,
    benign_per_image=1,
    pretrain_overrides=("model=tiny", "training.max_steps=2", "training.per_device_train_batch_size=8"),
    finetune_overrides=(
        "model=tiny",
        "training.max_steps=4",
        "training.num_train_epochs=1",
        "training.per_device_train_batch_size=8",
        "prism.limit=2",
        "prism.max_new_tokens=8",
        "prism.every_n_steps=2",
    ),
    patch_overrides=(
        "model={recipe: tiny, lora: {r: 4, alpha: 8}}",
        "training.max_steps=4",
        "training.per_device_train_batch_size=8",
        "prism.limit=2",
        "prism.max_new_tokens=8",
        "prism.every_n_steps=2",
    ),
    max_new_tokens=12,
)


@dataclass(frozen=True)
class Layout:
    """Where everything goes under the output folder."""

    root: Path

    @property
    def world(self) -> Path:
        return self.root / "world"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def audit(self) -> Path:
        return self.root / "audit"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def raw_file(self, stage: str) -> Path:
        return self.world / f"{stage}.json"

    def safe_file(self, stage: str) -> Path:
        return self.data / f"{stage}.safe.json"

    def train_file(self, variant: str, stage: str) -> Path:
        """What a stage trains on: the raw files for the baseline and for the patch (cleaned as it loads them)."""
        return self.safe_file(stage) if variant == "safe" else self.raw_file(stage)

    def model(self, variant: str, stage: str) -> Path:
        return self.root / variant / stage

    def final_model(self, variant: str) -> Path:
        return self.model(variant, FINAL_STAGE[variant])

    def prism(self, variant: str) -> Path:
        return self.root / "prism" / variant

    @property
    def comparison(self) -> Path:
        return self.root / "comparison.md"

    @property
    def manifest(self) -> Path:
        return self.world / "world.json"

    @property
    def benign_file(self) -> Path:
        return self.world / "prism" / "synth_benign.jsonl"

