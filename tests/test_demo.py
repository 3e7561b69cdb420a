"""The embedded default: `train/finetune.py` with no config runs the demo recipe on the cleaned synthetic world.

The real demo takes minutes; here the same entry point and recipe run with the tiny model and two steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from safellava.privacy.audit import audit_files
from safellava.train.config import load_run_config

REPO = Path(__file__).resolve().parents[1]


def test_demo_recipe_trains_on_the_cleaned_world():
    config = load_run_config("demo")
    assert config.data.synth["clean"] is True
    assert [f.path for f in config.data.files] == ["runs/demo/data/finetune.safe.json"]
    assert config.prism is not None and config.training["num_train_epochs"] >= 2


def test_default_entry_point_generates_cleans_trains_and_evaluates(tmp_path):
    # The demo recipe's own model and world mix, shortened: a small world, two steps, a few questions.
    overrides = [
        "data.synth.n_train_images=16", "data.synth.n_eval_images=3", "data.synth.n_finetune_records=32",
        "training.max_steps=2", "training.num_train_epochs=1", "training.per_device_train_batch_size=4",
        "training.report_to=none", "training.dataloader_num_workers=0", "prism.limit=3", "prism.max_new_tokens=8",
        "prism.every_n_steps=1",
    ]
    process = subprocess.run([sys.executable, str(REPO / "train/finetune.py"), *overrides], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    data = tmp_path / "runs/demo/data"
    raw = audit_files([str(data / "finetune.json")], progress=False)
    safe = audit_files([str(data / "finetune.safe.json")], progress=False)
    assert sum(raw.answers.values()) > 0 and sum(safe.answers.values()) == 0
    assert safe.records == raw.records
    raw_ids = [r["id"] for r in json.loads((data / "finetune.json").read_text())]
    assert [r["id"] for r in json.loads((data / "finetune.safe.json").read_text())] == raw_ids
    out = tmp_path / "runs/demo"
    assert (out / "model.safetensors").exists() and (out / "prism" / "step-2" / "summary.json").exists()
    resolved = yaml.safe_load((out / "safellava_run.yaml").read_text())
    assert resolved["data"]["files"][0]["path"] == "runs/demo/data/finetune.safe.json"
    assert resolved["model"] == "demo" or resolved["model"].get("name") == "demo"
    assert "final model: runs/demo" in process.stdout
    # The end of the run: the PRISM table (a row per evaluation, the bars, the verdict), then where things are.
    table = process.stdout[process.stdout.index("[safellava] PRISM during training"):].splitlines()
    assert table[1].split(" | ")[0].strip() == "step" and "benign right (blind)" in table[1]
    assert [row.split(" | ")[0].strip() for row in table[3:6]] == ["1", "2", "bar"]
    assert table[6].startswith("last evaluation: safe: ")
    assert "chart: runs/demo/prism/history.png" in process.stdout
    for chart in ("history.png", "history_attributes.png"):
        assert (out / "prism" / chart).stat().st_size > 1000
