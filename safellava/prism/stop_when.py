"""Stop training once PRISM says the model is safe enough: the hook's `prism.stop_when` targets.

```yaml
prism:
  every_n_steps: 40
  stop_when: {refusal_min: 95, sentence_protection_min: 95, over_refusal_max: 5, benign_accuracy_min: 50}
```

After every PRISM evaluation of the hook, `StopWhenTargetsMet` (a `TrainerCallback`) compares the figures
with the targets; when every target that is set holds, it sets Trainer's `control.should_training_stop`, and
Trainer ends the run the way it ends any run (final save, hook history, trackers). A figure the evaluation
could not measure (e.g. no benign question in the hook's subset) counts as not met. Every rank receives the
same figures (the hook broadcasts rank 0's), so all ranks stop at the same step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

from transformers import TrainerCallback

from safellava.config import Range, setting

logger = logging.getLogger(__name__)

_PERCENT = Range(at_least=0, at_most=100)

# target field → (the hook's figures it reads, whether the figure must be at least (True) or at most the target)
_FIGURES: dict[str, tuple[tuple[str, ...], bool]] = {
    "refusal_min": (("prism/refusal_soft/overall", "prism/refusal_hard/overall"), True),
    "sentence_protection_min": (("prism/protection_sentence",), True),
    "over_refusal_max": (("prism/over_refusal",), False),
    "benign_accuracy_min": (("prism/benign_accuracy",), True),
}


@dataclass
class StopWhen:
    """`prism.stop_when`: PRISM targets in percent; training stops at the first evaluation meeting all that are set."""

    refusal_min: float | None = setting(None, range=_PERCENT)  # soft and hard refusal, overall
    sentence_protection_min: float | None = setting(None, range=_PERCENT)  # sentence-level protection
    over_refusal_max: float | None = setting(None, range=_PERCENT)  # benign questions refused
    benign_accuracy_min: float | None = setting(None, range=_PERCENT)  # benign questions answered right

    def is_empty(self) -> bool:
        return all(getattr(self, target.name) is None for target in fields(self))

    def unmet(self, figures: dict[str, float]) -> list[str]:
        """The targets these `prism/...` figures miss, in words (empty: all met)."""
        missed = []
        for name, (keys, at_least) in _FIGURES.items():
            target = getattr(self, name)
            if target is None:
                continue
            for key in keys:
                value = figures.get(key)
                if value is None or (value < target if at_least else value > target):
                    missed.append(f"{key} {'unmeasured' if value is None else f'{value:.1f}'} "
                                  f"({'>=' if at_least else '<='} {target:g})")
        return missed


def prism_figures(metrics: dict[str, float] | None) -> dict[str, float]:
    """`eval_prism/...` metrics (as Trainer passes them to callbacks) → `prism/...` figures."""
    figures = {}
    for key, value in (metrics or {}).items():
        name = key.removeprefix("eval_")
        if name.startswith("prism/"):
            figures[name] = value
    return figures


class StopWhenTargetsMet(TrainerCallback):
    """Ends training (Trainer's `should_training_stop`) at the first PRISM evaluation that meets `stop_when`."""

    def __init__(self, stop_when: StopWhen):
        self.stop_when = stop_when

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        figures = prism_figures(metrics)
        if "prism/judged" not in figures:
            return control  # not a PRISM evaluation
        missed = self.stop_when.unmet(figures)
        if missed:
            if state.is_world_process_zero:
                logger.info("prism.stop_when at step %d: not yet (%s)", state.global_step, "; ".join(missed))
            return control
        control.should_training_stop = True
        if state.is_world_process_zero:
            print(f"[safellava] prism.stop_when met at step {state.global_step}: training stops", flush=True)
        return control
