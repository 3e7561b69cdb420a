"""Per-module tune policy: which parts of a LLaVA are frozen, fully trained, or adapted with (Q)LoRA.

The policy is checked before anything is built, so a contradictory recipe fails in a second with a
message that says what to change, not after a 7B model has been loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from safellava.config import ConfigError, Origins, Problems, from_mapping, setting
from safellava.model.module_map import MODULE_KEYS

MODES = ("frozen", "full", "lora", "qlora")  # per module; the modules are module_map.MODULE_KEYS


class TunePolicyError(ConfigError):
    """The tune policy cannot be applied as written."""


@dataclass
class TunePolicy:
    vision_tower: str = setting("frozen", choices=MODES)
    projector: str = setting("full", choices=MODES)
    language_model: str = setting("full", choices=MODES)
    # None: follow the language model (trained when it is fully trained, frozen under (Q)LoRA).
    lm_head: str | None = setting(None, choices=MODES)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "TunePolicy":
        """A policy from `{module: mode}`; every problem raises one `TunePolicyError`."""
        problems = Problems()
        policy = from_mapping(cls, data, origins=Origins(source), problems=problems, prefix="tune.")
        problems.raise_if_any(TunePolicyError)
        return policy

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
        problems = Problems()
        self.add_problems(Origins(source), problems)
        problems.raise_if_any(TunePolicyError)

    def add_problems(self, origins: Origins, problems: Problems, prefix: str = "") -> None:
        """Problems of the policy as a whole; `prefix` is where `tune` sits (e.g. `model.`)."""
        key = f"{prefix}tune"
        for module in ("vision_tower", "projector", "lm_head"):
            if self.mode(module) in ("lora", "qlora"):
                problems.add(
                    origins.of(f"{key}.{module}"), f"{key}.{module}", self.mode(module),
                    "frozen or full: (Q)LoRA adapts the language model only (adapting the vision encoder's "
                    "attention hurts LLaVA)",
                )
        if all(mode == "frozen" for mode in self.modes().values()):
            problems.add(origins.of(key), key, self.modes(), "at least one module not frozen (nothing would "
                         "train); set e.g. `tune.projector: full`")
        if self.quantized and self.lm_head == "full":
            problems.add(
                origins.of(f"{key}.lm_head"), f"{key}.lm_head", "full",
                "`lm_head: frozen` with `language_model: qlora`: a full-precision head beside a 4-bit body is "
                "not saved consistently by QLoRA setups",
            )

    def describe(self) -> str:
        return ", ".join(f"{module}={mode}" for module, mode in self.modes().items())
