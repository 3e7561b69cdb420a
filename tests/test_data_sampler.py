"""ModalityLengthGroupedSampler under 2 ranks: disjoint, complete, deterministic, modality-pure, grouped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from safellava.data.sampler import ModalityLengthGroupedSampler

BATCH, WORLD = 4, 2


def _lengths(images: int = 96, texts: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.integers(600, 1200, images), -rng.integers(20, 1500, texts)])


def _rank_batches(lengths, rank, epoch=0, seed=7, **kwargs):
    sampler = ModalityLengthGroupedSampler(lengths, BATCH, WORLD, rank, seed, megabatch_factor=4, **kwargs)
    sampler.set_epoch(epoch)
    order = list(sampler)
    assert len(order) == len(sampler)
    return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def test_two_ranks_get_disjoint_complete_modality_pure_batches():
    lengths = _lengths()  # 96 and 40: both multiples of the global batch (8), so nothing is repeated
    rank0, rank1 = _rank_batches(lengths, 0), _rank_batches(lengths, 1)
    assert len(rank0) == len(rank1) == (96 + 40) // (BATCH * WORLD)
    seen0, seen1 = {i for b in rank0 for i in b}, {i for b in rank1 for i in b}
    assert not seen0 & seen1 and seen0 | seen1 == set(range(len(lengths)))
    for first, second in zip(rank0, rank1):  # the two shards of one global batch share a modality
        signs = {bool(lengths[i] > 0) for i in first + second}
        assert len(signs) == 1
    # length grouping: inside a per-device batch, lengths come from one contiguous sorted slice
    spread = np.mean([np.ptp(np.abs(lengths[b])) for b in rank0 + rank1])
    random_spread = np.mean([np.ptp(np.abs(lengths[b])) for b in np.random.default_rng(0).permutation(len(lengths)).reshape(-1, BATCH)])
    assert spread < random_spread / 3


def test_order_is_deterministic_per_seed_and_epoch():
    lengths = _lengths()
    assert _rank_batches(lengths, 0, epoch=3) == _rank_batches(lengths, 0, epoch=3)
    assert _rank_batches(lengths, 0, epoch=3) != _rank_batches(lengths, 0, epoch=4)
    assert _rank_batches(lengths, 0, seed=1) != _rank_batches(lengths, 0, seed=2)


def test_global_order_matches_accelerates_per_process_sharding():
    """rank=None yields the global order; accelerate deals batch k to process k % world_size, and that must
    equal what rank=r yields — so Trainer + accelerate and a per-rank DataLoader see the same batches."""
    from accelerate.data_loader import BatchSamplerShard

    lengths = _lengths()
    sampler = ModalityLengthGroupedSampler(lengths, BATCH, WORLD, None, seed=7, megabatch_factor=4)
    sampler.set_epoch(2)
    batch_sampler = torch.utils.data.BatchSampler(sampler, BATCH, drop_last=False)
    for rank in range(WORLD):
        shard = [list(batch) for batch in BatchSamplerShard(batch_sampler, num_processes=WORLD, process_index=rank)]
        assert shard == _rank_batches(lengths, rank, epoch=2)


def test_resume_skips_into_the_same_order():
    from accelerate import skip_first_batches

    lengths = _lengths()
    sampler = ModalityLengthGroupedSampler(lengths, BATCH, WORLD, 0, seed=7)
    loader = torch.utils.data.DataLoader(list(range(len(lengths))), batch_size=BATCH, sampler=sampler)
    full = [batch.tolist() for batch in loader]
    resumed = ModalityLengthGroupedSampler(lengths, BATCH, WORLD, 0, seed=7)
    loader = torch.utils.data.DataLoader(list(range(len(lengths))), batch_size=BATCH, sampler=resumed)
    assert [batch.tolist() for batch in skip_first_batches(loader, 5)] == full[5:]


def test_uneven_modalities_repeat_or_drop_and_say_how_many():
    lengths = _lengths(images=21, texts=6)
    padded = _rank_batches(lengths, 0) + _rank_batches(lengths, 1)
    seen = [i for b in padded for i in b]
    assert set(seen) == set(range(27)) and all(len(b) == BATCH for b in padded)
    sampler = ModalityLengthGroupedSampler(lengths, BATCH, WORLD, 0)
    assert sampler.num_repeated == (24 - 21) + (8 - 6) == len(seen) - 27
    dropped = ModalityLengthGroupedSampler(lengths, BATCH, WORLD, 0, drop_last=True)
    assert dropped.num_dropped == 5 + 6 and len(dropped) == 16 // WORLD


def test_explicit_form_and_bad_input():
    explicit = ModalityLengthGroupedSampler.from_modalities([5, 6, 7, 8], [True, False, True, False], 2, seed=1)
    assert explicit.lengths.tolist() == [5, -6, 7, -8]
    with pytest.raises(ValueError, match="length 0 at index 1"):
        ModalityLengthGroupedSampler([3, 0], 2)
    with pytest.raises(ValueError, match="rank 2 outside world_size 2"):
        ModalityLengthGroupedSampler([3, 4], 2, world_size=2, rank=2)
