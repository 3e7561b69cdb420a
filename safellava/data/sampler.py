"""`ModalityLengthGroupedSampler`: batches of one modality and similar length, for one or many ranks.

Per epoch (deterministic in `seed` and the epoch, so a resumed run replays the same order and
Trainer's skip-first-batches lands where it stopped):
1. split the samples by modality (image vs text-only) and shuffle each;
2. pad each modality to a whole number of global batches (`batch_size × world_size`) by repeating its
   first shuffled samples (or drop the remainder with `drop_last`); `num_repeated` / `num_dropped` say how
   many;
3. cut each modality into mega-batches of `megabatch_factor` global batches, sort each mega-batch by
   length (longest first) and slice it into global batches: neighbours in length share a batch;
4. shuffle the order of all global batches (both modalities together).
Inside a global batch rank r takes positions [r·batch_size, (r+1)·batch_size): the ranks' shards are
disjoint and each per-device batch is contiguous in length.

Two ways to use it:
- `rank=None` (for transformers' Trainer / accelerate): iterate the *global* order — global batch after
  global batch, rank 0's shard first. Accelerate's `BatchSamplerShard` deals per-device batch k to
  process k mod world_size, which is exactly rank r's shard of each global batch.
- `rank=r` (plain DataLoader per process): iterate only rank r's indices.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


class ModalityLengthGroupedSampler(torch.utils.data.Sampler[int]):
    """`lengths[i]` > 0: sample i has an image and that many tokens; < 0: text-only with -lengths[i] tokens
    (LLaVA's signed convention; use `from_modalities` for an explicit form). `batch_size` is per device."""

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        world_size: int = 1,
        rank: int | None = None,
        seed: int = 0,
        *,
        megabatch_factor: int = 64,
        drop_last: bool = False,
    ):
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.ndim != 1 or not len(lengths):
            raise ValueError("lengths must be a non-empty 1-D sequence")
        if (lengths == 0).any():
            raise ValueError(f"length 0 at index {int(np.flatnonzero(lengths == 0)[0])}: lengths are signed token counts (>0 image, <0 text-only)")
        if batch_size < 1 or world_size < 1 or megabatch_factor < 1:
            raise ValueError("batch_size, world_size and megabatch_factor must be positive")
        if rank is not None and not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.lengths = lengths
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank
        self.seed = seed
        self.megabatch_factor = megabatch_factor
        self.drop_last = drop_last
        self.epoch = 0

    @classmethod
    def from_modalities(cls, lengths: Sequence[int], has_image: Sequence[bool], batch_size: int, **kwargs) -> ModalityLengthGroupedSampler:
        """Explicit form: positive `lengths` plus a `has_image` flag per sample."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if (lengths <= 0).any():
            raise ValueError("lengths must be positive token counts in the explicit form")
        return cls(np.where(np.asarray(has_image, dtype=bool), lengths, -lengths), batch_size, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Called by Trainer/accelerate before each epoch: the order depends on (seed, epoch) only."""
        self.epoch = int(epoch)

    @property
    def global_batch_size(self) -> int:
        return self.batch_size * self.world_size

    def global_batches(self) -> list[np.ndarray]:
        """This epoch's global batches (each `global_batch_size` indices, rank 0's shard first)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        batches: list[np.ndarray] = []
        for members in (np.flatnonzero(self.lengths > 0), np.flatnonzero(self.lengths < 0)):
            if len(members):
                batches += self._modality_batches(rng.permutation(members))
        return [batches[i] for i in rng.permutation(len(batches))]

    def _modality_batches(self, shuffled: np.ndarray) -> list[np.ndarray]:
        size = self.global_batch_size
        remainder = len(shuffled) % size
        if remainder and self.drop_last:
            shuffled = shuffled[: len(shuffled) - remainder]
        elif remainder:
            shuffled = np.concatenate([shuffled, np.resize(shuffled, size - remainder)])
        batches = []
        mega = size * self.megabatch_factor
        for start in range(0, len(shuffled), mega):
            block = shuffled[start : start + mega]
            block = block[np.argsort(-np.abs(self.lengths[block]), kind="stable")]
            batches += [block[i : i + size] for i in range(0, len(block), size)]
        return batches

    def per_device_batches(self, rank: int) -> list[np.ndarray]:
        """Rank `rank`'s batches for this epoch, in order."""
        begin, end = rank * self.batch_size, (rank + 1) * self.batch_size
        return [batch[begin:end] for batch in self.global_batches()]

    @property
    def num_repeated(self) -> int:
        """Samples repeated per epoch to fill the last global batch of each modality."""
        return 0 if self.drop_last else sum((-count) % self.global_batch_size for count in self._modality_counts())

    @property
    def num_dropped(self) -> int:
        """Samples left out per epoch with `drop_last` (the remainder of each modality)."""
        return sum(count % self.global_batch_size for count in self._modality_counts()) if self.drop_last else 0

    def _modality_counts(self) -> list[int]:
        return [int((self.lengths > 0).sum()), int((self.lengths < 0).sum())]

    def __iter__(self) -> Iterator[int]:
        if self.rank is None:
            order = self.global_batches()
        else:
            order = self.per_device_batches(self.rank)
        for batch in order:
            yield from batch.tolist()

    def __len__(self) -> int:
        size = self.global_batch_size
        batches = sum((count // size) if self.drop_last else -(-count // size) for count in self._modality_counts())
        return batches * (size if self.rank is None else self.batch_size)
