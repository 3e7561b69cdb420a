"""Safe data on the fly: training on the original files with `CleanedRecords` sees exactly the tokens and
labels of training on `safellava clean`'s output."""

from __future__ import annotations

from test_data_support import image_processor, tokenizers

from safellava.data.cleaned_records import CleanedRecords
from safellava.data.dataset import SupervisedDataset
from safellava.data.record_index import open_records
from safellava.privacy.clean import clean_file
from safellava.synth import generate_world


def _items_by_id(dataset: SupervisedDataset) -> dict[str, tuple[list[int], list[int]]]:
    out = {}
    for position in range(len(dataset)):
        item = dataset[position]
        where = dataset.source.location(int(dataset._kept[position]))
        out[where.id] = (item["input_ids"].tolist(), item["labels"].tolist())
    return out


def test_on_the_fly_cleaning_equals_training_on_the_cleaned_file(tmp_path):
    world = generate_world(tmp_path / "world", seed=3, n_train_images=40, n_eval_images=2, n_finetune_records=160)
    stats = clean_file(str(world.finetune), str(tmp_path / "safe.json"), progress=False)
    assert stats.records_changed > 20  # the world's raw answers do describe people
    common = dict(template="qwen_1_5", tokenizer=tokenizers()["qwen_bpe"], image_processor=image_processor(),
                  image_folder=world.image_folder, image_token_count=4, model_max_length=512,
                  cache_dir=tmp_path / "cache", progress=False)
    from_file = SupervisedDataset(tmp_path / "safe.json", **common)
    on_the_fly = CleanedRecords(open_records(world.finetune, cache_dir=tmp_path / "cache"))
    from_raw = SupervisedDataset(on_the_fly, **common)
    assert _items_by_id(from_file) == _items_by_id(from_raw)
    assert on_the_fly.counts["records_changed"] == stats.records_changed
    assert on_the_fly.counts["explicit-refusal"] == stats.explicit_refusals
    from_raw[0], from_raw[1]  # a second epoch cleans again but counts nothing twice
    assert on_the_fly.counts["records_changed"] == stats.records_changed
