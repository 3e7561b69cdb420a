"""The patch mix: what a privacy patch of an already trained LLaVA trains on.

From the user's original records, cleaned on the fly (`CleanedRecords`, the rules of `safellava clean`):
- every record that *touches people* — cleaning changes it (a biometric question whose answer becomes the
  refusal, a description rewritten neutrally) or one of its questions asks for a biometric attribute —
  in its Safe version: this is what the patch teaches;
- a seeded sample of the other records, unchanged (*replay*): what the model already does well is
  rehearsed, so the patch does not make it forget it. `replay_ratio` is the replay's share of the mix
  (0.3: three replayed records for every seven that touch people).

Records with structural problems stay in the mix, so that the dataset skips and counts them as in any
run. The selection is deterministic (the seed and the records alone decide it): every rank builds the
same mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from safellava.data.cleaned_records import CleanedRecords
from safellava.data.record_index import MixedRecords


@dataclass
class PatchMix:
    records: MixedRecords  # the mix, cleaned as read
    touching: int  # records that touch people (their Safe version is in the mix)
    replay: int  # replayed records that do not touch people
    replay_wanted: int  # what `replay_ratio` asked for (more than `untouched` when there are too few)
    untouched: int  # readable records that do not touch people: the pool replay is drawn from
    unreadable: int  # records with structural problems, left in for the dataset to skip and count
    cleaning: dict[str, int] = field(default_factory=dict)  # what cleaning changed in the touching records

    def summary(self) -> str:
        short = (f" (replay_ratio asked for {self.replay_wanted}; only {self.untouched} records do not touch people)"
                 if self.replay < self.replay_wanted else "")
        return (f"patch mix: {self.touching} records touching people, in their Safe version "
                f"({self.cleaning.get('explicit-refusal', 0)} refusals, {self.cleaning.get('implicit-rewrite', 0)} "
                f"rewrites), + {self.replay} of {self.untouched} other records replayed{short}")


def replay_count(touching: int, replay_ratio: float) -> int:
    """How many replayed records make them `replay_ratio` of a mix with `touching` records that touch people."""
    if replay_ratio <= 0:
        return 0
    return int(round(touching * replay_ratio / (1.0 - replay_ratio)))


def build_patch_mix(source: Any, replay_ratio: float, seed: int) -> PatchMix:
    """The patch mix of a record source (a file's index or a mix of files); see the module's docstring."""
    cleaned = CleanedRecords(source)
    touching, others, unreadable = [], [], []
    problem = source.problem_mask
    for index in range(len(source)):
        if problem[index]:
            unreadable.append(index)
        elif cleaned.touches_people(index):
            touching.append(index)
        else:
            others.append(index)
    wanted = replay_count(len(touching), replay_ratio)
    rng = np.random.default_rng(seed)
    replay = np.sort(rng.choice(np.asarray(others, dtype=np.int64), size=min(wanted, len(others)), replace=False))
    rows = np.concatenate([np.asarray(touching, dtype=np.int64), replay, np.asarray(unreadable, dtype=np.int64)])
    records = MixedRecords.of_rows([(CleanedRecords(source), rows)], name=f"patch mix of {getattr(source, 'name', source)}")
    return PatchMix(records, len(touching), len(replay), wanted, len(others), len(unreadable), dict(cleaned.counts))
