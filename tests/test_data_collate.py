"""DataCollator: right padding, labels -100, pixel values, and text-only batches that keep the vision tower busy."""

from __future__ import annotations

import copy

import pytest
import torch

from safellava.data.collate import DataCollator
from safellava.data.templates import IGNORE_INDEX

PAD, IMG = 0, 50


def _sample(ids, labels, images=0):
    pixel_values = torch.full((images, 3, 4, 4), float(len(ids))) if images else None
    return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "pixel_values": pixel_values}


def test_right_padding_labels_and_pixel_values_in_order():
    collator = DataCollator(pad_token_id=PAD, image_token_id=IMG, image_token_count=2, blank_pixel_values=torch.ones(1, 3, 4, 4))
    batch = collator([_sample([1, IMG, IMG, 7], [-100, -100, -100, 7], 1), _sample([3, 4], [-100, 4]), _sample([5, IMG, IMG], [-100] * 3, 1)])
    assert batch["input_ids"].tolist() == [[1, IMG, IMG, 7], [3, 4, PAD, PAD], [5, IMG, IMG, PAD]]
    assert batch["labels"].tolist() == [[-100, -100, -100, 7], [-100, 4, -100, -100], [-100, -100, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]
    assert batch["pixel_values"][:, 0, 0, 0].tolist() == [4.0, 3.0]  # sample order, text-only sample skipped


def test_text_only_batch_gets_a_blank_image_inside_the_padding():
    blank = torch.zeros(1, 3, 4, 4)
    collator = DataCollator(pad_token_id=PAD, image_token_id=IMG, image_token_count=3, blank_pixel_values=blank, pad_to_multiple_of=4)
    batch = collator([_sample([1, 2, 3, 4, 5], [-100, 2, 3, 4, 5]), _sample([6, 7], [-100, 7])])
    assert batch["input_ids"].tolist() == [[1, 2, 3, 4, 5, PAD, PAD, PAD], [6, 7, IMG, IMG, IMG, PAD, PAD, PAD]]
    assert batch["attention_mask"][1].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert (batch["labels"][1, 2:] == IGNORE_INDEX).all()
    assert torch.equal(batch["pixel_values"], blank)
    plain = DataCollator(pad_token_id=PAD, image_token_id=IMG, image_token_count=3)([_sample([6, 7], [-100, 7])])
    assert "pixel_values" not in plain and plain["input_ids"].tolist() == [[6, 7]]
    with pytest.raises(ValueError, match="pad token"):
        DataCollator(pad_token_id=None, image_token_id=IMG, image_token_count=3)


def test_blank_image_runs_the_vision_tower_without_changing_the_loss(tiny_llava):
    """With stock transformers 5 LlavaForConditionalGeneration: a text-only batch plus the blank image has
    the same loss as without it, and the projector gets (zero) gradients, so DDP/ZeRO-3 ranks stay in step."""
    _, shared_model, processor = tiny_llava
    model = copy.deepcopy(shared_model)
    tokenizer = processor.tokenizer
    image_id = model.config.image_token_id
    count = 16
    ids = tokenizer("USER: hello there ASSISTANT: hi, how can I help?")["input_ids"]
    text = {"input_ids": torch.tensor(ids), "labels": torch.tensor([-100] * 5 + ids[5:]), "pixel_values": None}
    blank = torch.zeros(1, 3, 32, 32)
    busy = DataCollator(tokenizer.pad_token_id, image_id, count, blank_pixel_values=blank)([text, text])
    idle = DataCollator(tokenizer.pad_token_id, image_id, count)([text, text])

    loss_busy = model(**busy).loss
    loss_busy.backward()
    with torch.no_grad():
        loss_idle = model(**idle).loss
    assert torch.allclose(loss_busy, loss_idle, atol=1e-6)
    projector = [p for name, p in model.named_parameters() if "multi_modal_projector" in name]
    assert projector and all(p.grad is not None and float(p.grad.abs().sum()) == 0.0 for p in projector)

    model.zero_grad()
    image_ids = [ids[0]] + [image_id] * count + ids[1:]
    with_image = {"input_ids": torch.tensor(image_ids), "labels": torch.tensor([-100] * (count + 6) + image_ids[count + 6 :]),
                  "pixel_values": torch.randn(1, 3, 32, 32)}
    mixed = DataCollator(tokenizer.pad_token_id, image_id, count, blank_pixel_values=blank)([with_image, text])
    assert mixed["pixel_values"].shape[0] == 1  # the real image only; the text-only row has no image tokens
    model(**mixed).loss.backward()
    assert any(float(p.grad.abs().sum()) > 0 for p in projector)
