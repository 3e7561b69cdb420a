"""Per-module tune policy: which parts of a LLaVA are frozen, fully trained, or adapted with (Q)LoRA.

The policy is checked before anything is built, so a contradictory recipe fails in a second with a
message that says what to change, not after a 7B model has been loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safellava.errors import UserError
from safellava.model.module_map import MODULE_KEYS

MODES = ("frozen", "full", "lora", "qlora")


class TunePolicyError(UserError, ValueError):
    """The tune policy cannot be applied as written."""


@dataclass
class TunePolicy:
    vision_tower: str = "frozen"
    projector: str = "full"
    language_model: str = "full"
    # None: follow the language model (trained when it is fully trained, frozen under (Q)LoRA).
    lm_head: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "TunePolicy":
        if not isinstance(data, dict):
            raise TunePolicyError(f"{source}: `tune` must be a mapping of module → mode, got {data!r}")
        unknown = sorted(set(data) - set(MODULE_KEYS))
        if unknown:
            raise TunePolicyError(f"{source}: unknown module(s) in `tune`: {unknown}; modules are {list(MODULE_KEYS)}")
        for module, mode in data.items():
            if mode not in MODES:
                raise TunePolicyError(f"{source}: `tune.{module}` is {mode!r}; choose one of {list(MODES)}")
        return cls(**data)

    def mode(self, module: str) -> str:
        if module == "lm_head" and self.lm_head is None:
            return "full" if self.language_model == "full" else "frozen"
        return getattr(self, module)

    def modes(self) -> dict[str, str]:
        return {module: self.mode(module) for module in MODULE_KEYS}

    @property
    def uses_lora(self) -> bool:
        return self.language_model in ("lora", "qlora")

    @property
    def quantized(self) -> bool:
        return self.language_model == "qlora"

    def check_against(self, source: str = "<recipe>") -> None:
        """Reject policies that cannot be trained; say which key to change."""
        for module in ("vision_tower", "projector", "lm_head"):
            if self.mode(module) in ("lora", "qlora"):
                raise TunePolicyError(
                    f"{source}: `tune.{module}: {self.mode(module)}` is not supported: (Q)LoRA adapts the language "
                    f"model only (adapting the vision encoder's attention hurts LLaVA); use `frozen` or `full`"
                )
        if all(mode == "frozen" for mode in self.modes().values()):
            raise TunePolicyError(
                f"{source}: every module is frozen, so nothing would train; set e.g. `tune.projector: full`"
            )
        if self.quantized and self.lm_head == "full":
            raise TunePolicyError(
                f"{source}: `tune.lm_head: full` with `language_model: qlora` would train a full-precision head "
                f"beside a 4-bit body, which QLoRA setups do not save consistently; use `lm_head: frozen`"
            )

    def describe(self) -> str:
        return ", ".join(f"{module}={mode}" for module, mode in self.modes().items())
