"""model_max_length counts image tokens; truncation never cuts inside an image; all-masked samples are dropped."""

from __future__ import annotations

import pytest
from test_data_support import image_processor, image_record, text_record, tokenizers, write_image, write_json

from safellava.data.dataset import SupervisedDataset
from safellava.data.templates import IGNORE_INDEX, RenderedSample
from safellava.data.truncation import truncate

IMG = 99


def _sample() -> RenderedSample:
    """3 text tokens, image A (4 tokens) at 3, 2 text, image B at 9, then 3 supervised tokens."""
    ids = [1, 2, 3] + [IMG] * 4 + [5, 6] + [IMG] * 4 + [7, 8, 9]
    labels = [IGNORE_INDEX] * 13 + [7, 8, 9]
    return RenderedSample(ids, labels, image_starts=[3, 9])


@pytest.mark.parametrize(
    "limit,length,images_kept",
    [(16, 16, 2), (15, 15, 2), (13, 13, 2), (12, 9, 1), (10, 9, 1), (9, 9, 1), (8, 8, 1), (7, 7, 1), (6, 3, 0), (4, 3, 0)],
)
def test_cuts_move_back_to_an_image_start(limit, length, images_kept):
    cut = truncate(_sample(), limit, 4)
    assert len(cut.sample) == length and cut.images_kept == images_kept
    assert cut.sample.input_ids.count(IMG) == 4 * images_kept
    assert cut.sample.image_starts == [3, 9][:images_kept]
    assert cut.was_cut == (limit < 16)
    assert cut.has_targets == (length > 13)


def test_dataset_truncates_around_images_and_drops_all_masked_samples(tmp_path):
    images = tmp_path / "images"
    write_image(images / "a.png")
    write_image(images / "b.png", color=(0, 0, 255))
    two_images = {
        "id": "two",
        "image": ["a.png", "b.png"],
        "conversations": [
            {"from": "human", "value": "<image> first"},
            {"from": "gpt", "value": "A red one."},
            {"from": "human", "value": "<image> second"},
            {"from": "gpt", "value": "A blue one, " + "really " * 40},
        ],
    }
    records = [two_images, image_record("lost", "a.png", "word " * 80, "answer"), text_record("fine", "hi", "hello")]
    path = write_json(tmp_path / "d.json", records)
    tokenizer = tokenizers()["qwen_bpe"]
    dataset = SupervisedDataset(
        path, "qwen_1_5", tokenizer, image_processor(), images, image_token_count=16, model_max_length=64,
        cache_dir=tmp_path / "cache", progress=False,
    )
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    item = dataset[0]
    assert len(item["input_ids"]) <= 64
    image_tokens = int((item["input_ids"] == image_id).sum())
    assert image_tokens == 16 * item["pixel_values"].shape[0]  # features and image tokens always match
    assert item["pixel_values"].shape[0] == 1  # the second image did not fit and was dropped whole
    assert (item["labels"] != IGNORE_INDEX).any()
    assert dataset.report.records_truncated == 1

    replacement = dataset[1]  # "lost": its only answer is cut away → dropped, counted, replaced
    assert dataset.report.counts == {"all_targets_truncated": 1}
    assert replacement["input_ids"].tolist() == item["input_ids"].tolist()  # the next image sample
    assert dataset.report.records_dropped == 1
