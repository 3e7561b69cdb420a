"""Export a run's output (or one of its checkpoints) as a standalone Hugging Face model folder.

A LoRA/QLoRA run's output is an adapter over a base model; `merge_lora` folds the adapter (and the
projector trained beside it) into the base weights, giving a plain `LlavaForConditionalGeneration`
folder that needs neither peft nor safellava.
"""

from __future__ import annotations

import json
from pathlib import Path

from safellava.atomic import write_text
from safellava.errors import UserError
from safellava.model.build import METADATA_FILE, load_llava, read_metadata


def export_model(run_dir: str | Path, out_dir: str | Path, *, merge_lora: bool = False, dtype: str | None = None) -> Path:
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a folder; give a run's output folder or one of its checkpoint-<step> folders")
    adapter_config = run_dir / "adapter_config.json"
    if adapter_config.exists():
        if not merge_lora:
            raise UserError(f"{run_dir} holds a LoRA adapter: pass --merge-lora to fold it into its base model")
        model, processor = _merged(run_dir, adapter_config, dtype)
    elif (run_dir / "config.json").exists():
        model, processor = load_llava(str(run_dir), dtype=dtype)
    else:
        raise UserError(f"{run_dir} has neither config.json nor adapter_config.json: not a model folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    metadata = read_metadata(run_dir) or read_metadata(run_dir.parent) or {}
    metadata = {**metadata, "adapter": False, "exported_from": str(run_dir.resolve())}
    write_text(out_dir / METADATA_FILE, json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return out_dir


def _merged(run_dir: Path, adapter_config: Path, dtype: str | None):
    from peft import PeftModel
    from transformers import AutoProcessor

    base = json.loads(adapter_config.read_text()).get("base_model_name_or_path")
    if not base:
        raise UserError(f"{adapter_config} names no base model (base_model_name_or_path)")
    if not Path(base).exists() and Path(base).is_absolute():
        raise UserError(f"the adapter's base model {base} is gone; restore it or edit {adapter_config}")
    model, _ = load_llava(base, dtype=dtype)
    merged = PeftModel.from_pretrained(model, str(run_dir)).merge_and_unload()
    processor_source = run_dir if (run_dir / "processor_config.json").exists() else base
    return merged, AutoProcessor.from_pretrained(str(processor_source))
