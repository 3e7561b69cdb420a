"""SupervisedDataset end to end: records → samples → grouped batches, and the image preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_data_support import image_processor, image_record, text_record, tokenizers, write_image, write_json

from safellava.data.dataset import SupervisedDataset
from safellava.data.images import ImagePreprocessor, expand_to_square, mean_fill_color
from safellava.data.sampler import ModalityLengthGroupedSampler
from safellava.data.templates import IGNORE_INDEX, check_rendered, RenderedSample


@pytest.fixture()
def dataset(tmp_path):
    images = tmp_path / "images"
    write_image(images / "wide.png", size=(48, 16))
    records = []
    for i in range(12):
        records.append(image_record(f"img{i}", "wide.png", "Describe the scene" + " please" * i, "A red square" + " indeed" * (2 * i)))
    for i in range(4):
        records.append(text_record(f"txt{i}", "Tell me a story" + " now" * i, "Once upon a time" + " there was" * (5 * i)))
    path = write_json(tmp_path / "d.json", records)
    return SupervisedDataset(
        path, "vicuna_v1", tokenizers()["llama_sp"], image_processor(), images, image_token_count=16,
        model_max_length=256, cache_dir=tmp_path / "cache", progress=False,
    ), records


def test_items_have_labels_by_construction_and_pixel_values(dataset):
    data, records = dataset
    tokenizer = tokenizers()["llama_sp"]
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    for position in (0, 11, 12, 15):
        item = data[position]
        sample = RenderedSample(item["input_ids"].tolist(), item["labels"].tolist())
        assert check_rendered(sample, records[position]["conversations"], "vicuna_v1", tokenizer, image_id, 16) == []
        if position < 12:
            assert item["pixel_values"].shape == (1, 3, 32, 32)
        else:
            assert item["pixel_values"] is None and image_id not in item["input_ids"].tolist()


def test_estimated_lengths_track_real_lengths_and_carry_the_modality(dataset):
    data, _ = dataset
    estimated, exact = data.modality_lengths(), data.modality_lengths(exact=True)
    assert (estimated[:12] > 0).all() and (estimated[12:] < 0).all()
    assert np.sign(exact).tolist() == np.sign(estimated).tolist()
    assert np.abs(np.abs(estimated) - np.abs(exact)).max() <= 0.1 * np.abs(exact).max()
    assert exact[:12].tolist() == [len(data[i]["input_ids"]) for i in range(12)]


def test_a_grouped_loader_yields_modality_pure_padded_batches(dataset):
    data, _ = dataset
    sampler = ModalityLengthGroupedSampler(data.modality_lengths(), batch_size=4, seed=0)
    loader = torch.utils.data.DataLoader(data, batch_size=4, sampler=sampler, collate_fn=data.make_collator())
    batches = list(loader)
    assert len(batches) == 4
    image_id = data.image_token_id
    for batch in batches:
        images = int(batch["pixel_values"].shape[0])
        assert int((batch["input_ids"] == image_id).sum()) == images * 16
        assert images in (1, 4)  # four real images, or the one blank image of a text-only batch
        assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()


def test_pad_to_square_uses_the_mean_colour_and_resize_uses_the_processor():
    from PIL import Image

    processor = image_processor()
    fill = mean_fill_color(processor)
    assert fill == (123, 117, 104)  # CLIP's mean, as LLaVA-1.5 pads
    squared = expand_to_square(Image.new("RGB", (40, 10), (255, 0, 0)), fill)
    assert squared.size == (40, 40) and squared.getpixel((0, 0)) == fill and squared.getpixel((20, 20)) == (255, 0, 0)
    wide = Image.new("RGB", (64, 16), (255, 0, 0))
    padded = ImagePreprocessor(processor, "pad")([wide])
    resized = ImagePreprocessor(processor, "resize")([wide])
    assert padded.shape == resized.shape == (1, 3, 32, 32)
    assert padded[0, :, 0, 16].abs().max() < 0.02  # a padded row normalises to ~0
    assert resized[0, 0, 0, 16] > 1.0  # centre crop of the red image: red everywhere
    assert ImagePreprocessor(processor).blank().abs().max() < 0.02
    with pytest.raises(ValueError, match="image_aspect 'crop'"):
        ImagePreprocessor(processor, "crop")


def test_the_synthetic_worlds_data_is_clean_for_both_stages(tmp_path):
    """The synth package's raw stage-1/stage-2 files pass every check with the stage's template."""
    from safellava.data.check import check_records
    from safellava.synth import generate_world

    world = generate_world(tmp_path / "world", seed=0, n_train_images=6, n_eval_images=2, image_size=32)
    tokenizer = tokenizers()["llama_sp"]
    for records, template in ((world.pretrain, "plain"), (world.finetune, "vicuna_v1")):
        report = check_records(
            records, world.image_folder, tokenizer=tokenizer, template=template, image_token_count=16,
            model_max_length=2048, cache_dir=tmp_path / "cache", progress=False,
        )
        assert report.problems == [] and report.records_seen > 0
