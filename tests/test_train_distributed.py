"""Two processes on CPU through `accelerate launch`: DDP over gloo, and DeepSpeed ZeRO-3 with LoRA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.distributed

TINY_LORA = (
    "model={name: tiny-lora, vision: {kind: clip, config: {image_size: 32, patch_size: 8, hidden_size: 32, "
    "intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2}}, language: {kind: llama, config: "
    "{hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, "
    "num_key_value_heads: 2}}, tokenizer: {train: sentencepiece_llama, corpus: synth}, tune: {language_model: lora}, "
    "lora: {r: 4, alpha: 8}}"
)


@pytest.fixture(scope="module", autouse=True)
def _deepspeed_ops_built():
    """DeepSpeed JIT-compiles its CPU communication op on first use. Two ranks compiling it at once on a
    fresh machine can load a half-written library (seen as SIGABRT): build it once, here, first."""
    code = (
        "from deepspeed.accelerator import get_accelerator\n"
        "builder = get_accelerator().create_op_builder('ShareMemCommBuilder')\n"
        "builder is None or builder.load()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=600)


def _launch(world, out: Path, *overrides: str, stage: str = "finetune") -> subprocess.CompletedProcess:
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [
        str(accelerate), "launch", "--config_file", str(REPO / "configs/accelerate/cpu.yaml"),
        "--main_process_port", "0", str(REPO / f"train/{stage}.py"),
        "model=tiny", "data.synth=null", "prism=null",
        f"data.files=[{world / 'finetune.json'}]", f"data.image_folder={world / 'images'}",
        "data.model_max_length=256", f"training.output_dir={out}", "training.max_steps=4",
        "training.per_device_train_batch_size=2", "training.save_strategy=steps", "training.save_steps=2",
        "training.report_to=none", "training.dataloader_num_workers=0", "training.bf16=false", *overrides,
    ]
    return subprocess.run(command, cwd=out.parent, capture_output=True, text=True, timeout=420, env=dict(os.environ))


def _check(process: subprocess.CompletedProcess) -> None:
    if process.returncode != 0:
        # Progress bars drown the cause: keep the lines that say what went wrong.
        lines = (process.stdout + process.stderr).replace("\r", "\n").splitlines()
        telling = [line for line in lines if "it/s]" not in line and "%|" not in line and "Warning" not in line]
        pytest.fail("launch failed:\n" + "\n".join(telling[-80:]))


def test_two_process_ddp(small_world, tmp_path):
    out = tmp_path / "ddp"
    # The run generates and cleans its own world: only rank 0 may write it, the other rank waits.
    world = tmp_path / "world"
    _check(_launch(small_world.root, out,
                   f"data.synth={{out: {world}, n_train_images: 16, n_eval_images: 2, clean: true}}",
                   f"data.files=[{world / 'finetune.safe.json'}]", f"data.image_folder={world / 'images'}"))
    assert not list(world.glob("*.partial*"))
    checkpoint = out / "checkpoint-4"
    # One RNG state per rank proves two ranks trained; the final model is a plain HF folder.
    assert (checkpoint / "rng_state_0.pth").exists() and (checkpoint / "rng_state_1.pth").exists()
    assert (checkpoint / "safellava_checkpoint.json").exists()
    assert (out / "model.safetensors").exists() and (out / "safellava.json").exists()


def test_two_process_zero3_with_lora_and_prism_hook(small_world, tmp_path):
    out = tmp_path / "zero3"
    hook = {"tasks": [str(small_world.root / "prism")], "images": str(small_world.prism_image_folder), "limit": 4,
            "max_new_tokens": 8, "every_n_steps": 4}
    _check(_launch(small_world.root, out, TINY_LORA, f"training.deepspeed={REPO / 'configs/deepspeed/zero3.json'}",
                   "prism=" + json.dumps(hook)))
    # PRISM ran on both ranks (generation synced under ZeRO-3) and rank 0 scored it.
    summary = json.loads((out / "prism" / "step-4" / "summary.json").read_text())
    assert summary["implicit_leakage"]["n"] > 0
    for folder in (out / "checkpoint-2", out):
        adapter = load_file(str(folder / "adapter_model.safetensors"))
        lora = {k: v for k, v in adapter.items() if "lora_" in k}
        projector = {k: v for k, v in adapter.items() if "multi_modal_projector" in k}
        assert lora and all(v.numel() > 0 for v in lora.values()), f"{folder}: empty LoRA tensors under ZeRO-3"
        assert projector and all(v.numel() > 0 for v in projector.values())
        assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)
    assert (out / "checkpoint-4" / "global_step4").is_dir()  # DeepSpeed's own resumable state


def test_two_process_zero3_full_finetune_saves_gathered_16bit_weights(small_world, tmp_path):
    out = tmp_path / "zero3-full"
    _check(_launch(small_world.root, out, "training.save_strategy=no",
                   f"training.deepspeed={REPO / 'configs/deepspeed/zero3.json'}"))
    weights = load_file(str(out / "model.safetensors"))
    # Partitioned parameters would be saved as empty tensors; gathered ones have their full size.
    assert weights and all(tensor.numel() > 0 for tensor in weights.values())
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(out)
    assert sum(p.numel() for p in model.parameters()) == sum(t.numel() for t in weights.values())


def test_two_process_patch_stops_early_on_both_ranks_at_the_same_step(small_world, tiny_llava, tmp_path):
    from safellava.model.build import save_llava

    _, model, processor = tiny_llava
    trained = save_llava(model, processor, tmp_path / "trained")
    out = tmp_path / "patch"
    # Targets any model meets: the first evaluation (step 2) stops both ranks, well before max_steps.
    hook = {"tasks": [str(small_world.root / "prism")], "images": str(small_world.prism_image_folder), "limit": 2,
            "max_new_tokens": 8, "every_n_steps": 2, "stop_when": {"over_refusal_max": 100}}
    _check(_launch(small_world.root, out, "model={recipe: tiny, lora: {r: 4, alpha: 8}}", f"init_from={trained}",
                   "training.max_steps=6", "prism=" + json.dumps(hook), "--config", "demo", stage="patch"))
    checkpoint = out / "checkpoint-2"
    assert (checkpoint / "rng_state_0.pth").exists() and (checkpoint / "rng_state_1.pth").exists()
    assert not (out / "checkpoint-4").exists()
    assert json.loads((out / "safellava.json").read_text())["global_step"] == 2
    assert [json.loads(line)["global_step"] for line in (out / "prism" / "history.jsonl").read_text().splitlines()] == [2]
    assert load_file(str(out / "adapter_model.safetensors"))
