"""Reproduce the Safe-LLaVA paper's finding offline: the same recipe trained on raw data leaks biometric
attributes, trained on Safe-LLaVA-style data it refuses — without losing general ability.

`bash scripts/reproduce.sh [--out DIR] [--fast]` runs, each step through the project's real entry points
(as subprocesses, so the code paths are the ones a 7B run takes):

1. `safellava synth generate` — the synthetic world: raw stage-1/stage-2 data, PRISM-format tasks, a
   benign control set;
2. `safellava audit` on the raw data, `safellava clean` → the Safe version, `safellava audit` again;
3. for "baseline" (raw data) and "safe" (cleaned data), one recipe: `train/pretrain.py --config
   reproduce-pretrain`, then `train/finetune.py --config reproduce-finetune` with the PRISM epoch hook;
4. `safellava prism run` on both final models, `safellava prism compare`, a bar chart of the two runs and
   the per-epoch curves of both.

It ends by printing one JSON line: {"baseline": <summary.json>, "safe": <summary.json>, "seconds": <wall s>}.
Finished steps are reused on a rerun only when their inputs are unchanged (a stamp records the command,
the recipe files and a hash of the data and of the model a stage starts from).
"""

from safellava.errors import UserError
from safellava.reproduce.attributes import AttributeReading, attribute_reading
from safellava.reproduce.charts import draw_comparison_chart, draw_curves
from safellava.reproduce.cli import main
from safellava.reproduce.pipeline import reproduce
from safellava.reproduce.plan import FAST, FULL, VARIANTS, Layout, Plan
from safellava.reproduce.report import read_history, write_report
from safellava.reproduce.stamps import finished_model
from safellava.reproduce.targets import (
    TARGETS,
    benign_blind_rate,
    benign_by_kind,
    benign_chance,
    benign_kinds,
    check_targets,
)

__all__ = [
    "AttributeReading", "FAST", "FULL", "TARGETS", "VARIANTS", "Layout", "Plan", "UserError", "attribute_reading", "benign_blind_rate", "benign_by_kind",
    "benign_chance", "benign_kinds", "check_targets", "draw_comparison_chart", "draw_curves", "finished_model",
    "main", "read_history", "reproduce", "write_report",
]  # fmt: skip
