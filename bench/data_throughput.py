"""Samples per second of the whole data pipeline in one worker: decode image + template + tokenize + collate.

Data: the synthetic world's stage-2 records (safellava.synth; multi-question VQA-style and text-only
conversations), with each image re-saved as a 640×480 JPEG (the size and format of a COCO image) so
decoding and pad-to-square cost what they cost on LLaVA data. Pipeline as LLaVA-1.5 fine-tuning:
vicuna_v1 template, a Llama-style SentencePiece tokenizer (trained offline on the synthetic corpus),
CLIP 336-px image processor (Pillow backend), pad-to-square, 576 image tokens, model_max_length 2048,
batches of 16 from ModalityLengthGroupedSampler, DataCollator. Measured in the main process
(num_workers=0), i.e. per data-loader worker; also the time of each stage alone.
Prints one JSON line.

    .venv/bin/python bench/data_throughput.py [--images 64] [--passes 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def prepare(work: Path, images: int) -> tuple[Path, Path]:
    """The synthetic world's finetune records with 640×480 JPEG images; returns (records, image folder)."""
    from PIL import Image

    from safellava.synth import generate_world

    world = generate_world(work / "world", seed=0, n_train_images=images, n_eval_images=2, image_size=448)
    folder = work / "jpeg"
    for png in sorted(world.image_folder.glob("synth/*.png")):
        target = folder / "synth" / (png.stem + ".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(png).convert("RGB").resize((640, 480)).save(target, quality=90)
    records = json.loads(world.finetune.read_text())
    for record in records:
        if "image" in record:
            record["image"] = record["image"].replace(".png", ".jpg")
    out = work / "finetune_jpeg.json"
    out.write_text(json.dumps(records))
    return out, folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64, help="training images in the synthetic world")
    parser.add_argument("--passes", type=int, default=2, help="epochs over the records")
    args = parser.parse_args()

    from safellava.data.dataset import SupervisedDataset
    from safellava.data.images import load_image
    from safellava.data.sampler import ModalityLengthGroupedSampler
    from safellava.data.templates import render_conversation
    from safellava.model.processor import build_image_processor
    from safellava.model.tokenizer_source import add_llava_tokens
    from safellava.model.tokenizers import train_llama_sentencepiece
    from safellava.records.conversation import parse_turns
    from safellava.synth import tokenizer_corpus

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="safellava-bench-throughput-"))
    records, folder = prepare(work, args.images)
    tokenizer = add_llava_tokens(train_llama_sentencepiece(list(tokenizer_corpus(seed=0)), 4000, work / "tok"))
    dataset = SupervisedDataset(
        records, "vicuna_v1", tokenizer, build_image_processor("clip", 336), folder, image_token_count=576,
        model_max_length=2048, cache_dir=work / "cache", progress=False,
    )
    collator = dataset.make_collator()
    sampler = ModalityLengthGroupedSampler(dataset.modality_lengths(), batch_size=16, seed=0)
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, sampler=sampler, collate_fn=collator, num_workers=0)

    samples, start = 0, time.perf_counter()
    for epoch in range(args.passes):
        sampler.set_epoch(epoch)
        for batch in loader:
            samples += batch["input_ids"].shape[0]
    pipeline_seconds = time.perf_counter() - start

    paths = [dataset.source.image_paths(int(i)) for i in dataset._kept]
    image_files = [folder / p[0] for p in paths if p][:64]
    start = time.perf_counter()
    for path in image_files:
        dataset.images([load_image(path)])
    image_ms = (time.perf_counter() - start) / len(image_files) * 1e3
    conversations = [parse_turns(dataset.source.record(int(i))["conversations"]) for i in dataset._kept]
    start = time.perf_counter()
    for turns in conversations:
        render_conversation("vicuna_v1", turns, tokenizer, dataset.image_token_id, 576)
    render_ms = (time.perf_counter() - start) / len(conversations) * 1e3
    items = [dataset[i] for i in range(16)]
    start = time.perf_counter()
    for _ in range(20):
        collator(items)
    collate_ms = (time.perf_counter() - start) / 20 * 1e3

    print(
        json.dumps(
            {
                "bench": "data_throughput",
                "what": "samples/s of SupervisedDataset + DataCollator in one worker (640x480 JPEG decode, pad, CLIP-336 processor, vicuna_v1, tokenize, collate 16)",
                "records": len(dataset),
                "image_records": int(dataset._has_image.sum()),
                "samples": samples,
                "samples_per_second_per_worker": round(samples / pipeline_seconds, 1),
                "image_decode_pad_process_ms": round(image_ms, 2),
                "template_tokenize_ms_per_record": round(render_ms, 3),
                "collate_ms_per_batch_of_16": round(collate_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
