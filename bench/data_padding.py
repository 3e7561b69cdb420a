"""Padding efficiency of ModalityLengthGroupedSampler vs random batching on a mix665k-like length mix.

Lengths are synthetic but shaped like LLaVA-1.5's 665K instruction mix: its components and record counts
(LLaVA-Instruct 158K, ShareGPT 40K text-only, VQAv2 83K, GQA 72K, OKVQA 9K, OCR-VQA 80K, A-OKVQA 66K,
TextCaps 22K, RefCOCO 48K, VG 86K), a log-normal text length per component (medians below, in Vicuna
tokens with the template), plus 576 image tokens for image samples, capped at 2048.

Efficiency = real tokens / padded tokens, summed over every per-device batch of every rank, for LLaVA's
fine-tuning layout (16 per device × 8 ranks). "random" is a shuffled order cut into per-device batches
(what a plain DistributedSampler gives). "grouped" feeds the sampler exact lengths
(`SupervisedDataset.modality_lengths(exact=True)`); "grouped_estimated" feeds it lengths whose text part
carries log-normal noise as large as the error of the default estimate, which this run measures by
comparing `modality_lengths()` with exact lengths on 3,000 mix-like records rendered with vicuna_v1 and a
SentencePiece tokenizer trained on the synthetic corpus. Efficiency is always measured on true lengths.
Prints one JSON line. Goal: grouped ≥ 0.95.

    .venv/bin/python bench/data_padding.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from safellava.data.sampler import ModalityLengthGroupedSampler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_memory import write_mix  # noqa: E402  (the mix-like record generator)

IMAGE_TOKENS = 576
MAX_LENGTH = 2048
# component: (records, has image, median text tokens, log-normal sigma)
COMPONENTS = {
    "llava_conversation": (58_000, True, 250, 0.5),
    "llava_detail": (23_000, True, 200, 0.3),
    "llava_reasoning": (77_000, True, 250, 0.35),
    "sharegpt": (40_000, False, 700, 0.9),
    "vqav2": (83_000, True, 150, 0.5),
    "gqa": (72_000, True, 180, 0.5),
    "okvqa": (9_000, True, 80, 0.3),
    "ocrvqa": (80_000, True, 120, 0.3),
    "aokvqa": (66_000, True, 110, 0.3),
    "textcaps": (22_000, True, 70, 0.2),
    "refcoco": (48_000, True, 200, 0.5),
    "vg": (86_000, True, 250, 0.5),
}


def mix_lengths(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(text tokens, has_image) for every synthetic record."""
    rng = np.random.default_rng(seed)
    texts, images = [], []
    for count, has_image, median, sigma in COMPONENTS.values():
        texts.append(np.maximum(8, rng.lognormal(np.log(median), sigma, count)).astype(np.int64))
        images.append(np.full(count, has_image))
    return np.concatenate(texts), np.concatenate(images)


def estimate_error(records: int = 3000) -> float:
    """Log-std of (estimated / exact) text tokens of SupervisedDataset's default length estimate."""
    from safellava.data.dataset import SupervisedDataset
    from safellava.model.processor import build_image_processor
    from safellava.model.tokenizer_source import add_llava_tokens
    from safellava.model.tokenizers import train_llama_sentencepiece
    from safellava.synth import tokenizer_corpus

    work = Path(tempfile.mkdtemp(prefix="safellava-bench-padding-"))
    tokenizer = add_llava_tokens(train_llama_sentencepiece(list(tokenizer_corpus(seed=0)), 1000, work / "tok"))
    write_mix(work / "mix.json", records, seed=5)
    dataset = SupervisedDataset(
        work / "mix.json", "vicuna_v1", tokenizer, build_image_processor("clip", 336), work / "images",
        image_token_count=IMAGE_TOKENS, model_max_length=100_000, image_check="none", cache_dir=work / "cache",
        progress=False,
    )
    image_tokens = (dataset.modality_lengths() > 0) * IMAGE_TOKENS
    estimated = np.abs(dataset.modality_lengths()) - image_tokens
    exact = np.abs(dataset.modality_lengths(exact=True)) - image_tokens
    return float(np.std(np.log(np.maximum(estimated, 1) / exact)))


def efficiency(batches: list[np.ndarray], lengths: np.ndarray) -> float:
    real = sum(int(lengths[b].sum()) for b in batches)
    padded = sum(int(lengths[b].max()) * len(b) for b in batches)
    return real / padded


def main() -> None:
    batch_size, world_size = 16, 8
    text, has_image = mix_lengths()
    true = np.minimum(text + has_image * IMAGE_TOKENS, MAX_LENGTH)
    rng = np.random.default_rng(1)
    error = estimate_error()
    noisy_text = np.maximum(1, np.rint(text * rng.lognormal(0.0, error, len(text)))).astype(np.int64)
    estimated = np.minimum(noisy_text + has_image * IMAGE_TOKENS, MAX_LENGTH)

    def grouped(lengths_seen: np.ndarray) -> tuple[float, float]:
        sampler = ModalityLengthGroupedSampler(np.where(has_image, lengths_seen, -lengths_seen), batch_size, world_size, None, seed=0)
        start = time.time()
        batches = [b for rank in range(world_size) for b in sampler.per_device_batches(rank)]
        return efficiency(batches, true), time.time() - start

    random_order = np.random.default_rng(2).permutation(len(true))
    random_batches = [random_order[i : i + batch_size] for i in range(0, len(random_order), batch_size)]
    grouped_true, seconds = grouped(true)
    grouped_estimated, _ = grouped(estimated)
    print(
        json.dumps(
            {
                "bench": "data_padding",
                "what": "real/padded tokens per per-device batch, mix665k-like lengths (576 image tokens, cap 2048), 16 per device x 8 ranks",
                "records": int(len(true)),
                "text_only_records": int((~has_image).sum()),
                "mean_length_tokens": round(float(true.mean()), 1),
                "random_batching_efficiency": round(efficiency(random_batches, true), 4),
                "grouped_efficiency": round(grouped_true, 4),
                "grouped_estimated_lengths_efficiency": round(grouped_estimated, 4),
                "length_estimate_log_error": round(error, 4),
                "goal": 0.95,
                "sampler_epoch_seconds_all_ranks": round(seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
