"""`generate_world`: writes a complete synthetic world to a folder, deterministically from a seed.

Layout (all paths relative to `out_dir`):

    world.json                      manifest: parameters, counts, mention statistics, ground truth per image
    images/synth/00001.png ...      training images (records say "synth/00001.png": relative to images/)
    images/eval/synth_00001.png ... held-out images for PRISM and the benign set (located by basename)
    pretrain.json                   stage-1 records (LLaVA 558K format)
    finetune.json                   stage-2 records (LLaVA mix665k format)
    prism/synth_PRISM_refusal_soft.jsonl, synth_PRISM_refusal_hard.jsonl, synth_PRISM_implicit_leakage.jsonl
    prism/synth_benign.jsonl        benign control questions with their answers

Every image and record draws from its own `random.Random` seeded by (seed, split, index), so the first
N images of a world are the same whatever the total, and the same seed gives the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from safellava.atomic import write_text
from safellava.synth import prism_tasks
from safellava.synth.corpus import tokenizer_corpus
from safellava.synth.draw import draw_scene
from safellava.synth.language import SHOWN_ATTRIBUTES, mentioned_attributes
from safellava.synth.scene import (
    ACTIONS,
    AGES,
    COLORS,
    EYE_COLORS,
    GENDERS,
    RACES,
    SHAPES,
    WEIGHTS,
    Scene,
    sample_scene,
)
from safellava.synth.training_records import FINETUNE_MIX, finetune_record, pretrain_record

__all__ = ["WorldPaths", "generate_world", "tokenizer_corpus", "load_manifest"]

# Bump when generation changes, so an old world on disk is regenerated instead of reused.
FORMAT_VERSION = 2
TRAIN_PERSON_PROBABILITY = 0.9  # some training images show no one
MAX_EVAL_RESAMPLES = 1000
TRAIN_DIR, EVAL_DIR = "synth", "eval"
_TRAIN_NAME = re.compile(r"^\d{5,}\.png$")
_EVAL_NAME = re.compile(r"^synth_\d{5,}\.png$")

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class WorldPaths:
    """Where a generated world's files are."""

    root: Path
    manifest: Path  # world.json
    image_folder: Path  # images/: the "image" paths of pretrain/finetune records are relative to it
    prism_image_folder: Path  # images/eval: PRISM and benign rows' images resolve here by basename
    pretrain: Path  # stage-1 records
    finetune: Path  # stage-2 records
    prism_refusal_soft: Path
    prism_refusal_hard: Path
    prism_implicit_leakage: Path
    benign: Path
    reused: bool = False  # True when generate_world found a matching world and wrote nothing

    @classmethod
    def under(cls, root: str | os.PathLike, reused: bool = False) -> WorldPaths:
        """The paths of a world in `root` (whether or not it has been generated)."""
        root = Path(root)
        prism = root / "prism"
        return cls(
            root=root,
            manifest=root / "world.json",
            image_folder=root / "images",
            prism_image_folder=root / "images" / EVAL_DIR,
            pretrain=root / "pretrain.json",
            finetune=root / "finetune.json",
            prism_refusal_soft=prism / "synth_PRISM_refusal_soft.jsonl",
            prism_refusal_hard=prism / "synth_PRISM_refusal_hard.jsonl",
            prism_implicit_leakage=prism / "synth_PRISM_implicit_leakage.jsonl",
            benign=prism / "synth_benign.jsonl",
            reused=reused,
        )

    def files(self) -> list[Path]:
        """Every data file of the world except the images."""
        return [
            getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("root", "image_folder", "prism_image_folder", "reused")
        ]


def generate_world(
    out_dir: str | os.PathLike,
    seed: int = 0,
    n_train_images: int = 2000,
    n_eval_images: int = 50,
    image_size: int = 64,
    n_pretrain_records: int | None = None,
    n_finetune_records: int | None = None,
    benign_per_image: int = 2,
    finetune_mix: Mapping[str, float] | None = None,
    short_answers_in_prism_form: float = 0.0,
    progress: ProgressCallback | None = None,
) -> WorldPaths:
    """Write a synthetic world to `out_dir` and return its paths.

    n_train_images / n_eval_images: images for training records / for PRISM and the benign set.
    image_size: side of every image in pixels (at least 16).
    n_pretrain_records: stage-1 records (default: one caption per training image).
    n_finetune_records: stage-2 records (default: two per training image).
    benign_per_image: benign questions per held-out image (1 to 5).
    finetune_mix: share of each kind of stage-2 record (keys of FINETUNE_MIX, the default: LLaVA's mix
        in miniature); shares are normalised, kinds left out are not generated.
    short_answers_in_prism_form: share (0 to 1) of short-answer questions asked in PRISM's prompt form
        ("<question>\nAnswer") instead of LLaVA's "Answer the question using a single word or phrase.".
    progress: called as progress(done, total) while images are written.

    If `out_dir/world.json` records the same parameters and every file exists, nothing is written and
    the returned paths have `reused=True`.
    """
    params = _resolve_params(
        seed, n_train_images, n_eval_images, image_size, n_pretrain_records, n_finetune_records, benign_per_image
    ) | _resolve_mix(finetune_mix, short_answers_in_prism_form)
    paths = WorldPaths.under(out_dir)
    if _is_current(paths, params):
        return WorldPaths.under(out_dir, reused=True)

    # Remove the old manifest first: an interrupted run must not look complete afterwards.
    paths.manifest.unlink(missing_ok=True)
    for folder in (paths.image_folder / TRAIN_DIR, paths.prism_image_folder, paths.manifest.parent / "prism"):
        folder.mkdir(parents=True, exist_ok=True)

    train_scenes = [_train_scene(seed, i) for i in range(n_train_images)]
    eval_scenes, resampled = _eval_scenes(seed, n_eval_images, {s.key() for s in train_scenes})
    train_names = [f"{TRAIN_DIR}/{_number(i, n_train_images)}.png" for i in range(n_train_images)]
    eval_basenames = [f"synth_{_number(i, n_eval_images)}.png" for i in range(n_eval_images)]

    _write_images(paths, train_names, train_scenes, eval_basenames, eval_scenes, image_size, progress)
    stale = _remove_stale_images(paths, set(train_names), set(eval_basenames))

    pretrain = _pretrain_records(seed, params["n_pretrain_records"], train_names, train_scenes)
    finetune, kinds, asked = _finetune_records(
        seed, params["n_finetune_records"], train_names, train_scenes,
        params.get("finetune_mix", FINETUNE_MIX), params.get("short_answers_in_prism_form", 0.0),
    )
    _write_json(paths.pretrain, pretrain)
    _write_json(paths.finetune, finetune)
    prism_counts = _write_prism_files(paths, seed, eval_basenames, eval_scenes, benign_per_image)

    manifest = {
        "generator": "safellava.synth",
        "params": params,
        "counts": {
            "train_images": n_train_images,
            "eval_images": n_eval_images,
            "pretrain_records": len(pretrain),
            "finetune_records": len(finetune),
            "finetune_kinds": {kind: kinds[kind] for kind in FINETUNE_MIX},
            "text_only_records": kinds["text"],
            **prism_counts,
            "eval_images_resampled": resampled,
            "stale_images_removed": stale,
        },
        "mentions": {
            "pretrain": _mention_counts(pretrain),
            "finetune": _mention_counts(finetune),
            "biometric_questions_asked": {a: asked[a] for a in SHOWN_ATTRIBUTES},
        },
        "values": {
            "age": AGES, "gender": GENDERS, "race": RACES, "eye_color": EYE_COLORS, "weight": WEIGHTS,
            "action": ACTIONS, "shape": SHAPES, "color": COLORS,
        },
        "files": {f.name: str(getattr(paths, f.name).relative_to(paths.root)) for f in fields(paths)
                  if isinstance(getattr(paths, f.name), Path) and f.name != "root"},
        "images": {
            **{name: {"split": "train", **scene.to_dict()} for name, scene in zip(train_names, train_scenes)},
            **{f"{EVAL_DIR}/{name}": {"split": "eval", **scene.to_dict()} for name, scene in zip(eval_basenames, eval_scenes)},
        },
    }
    _write_json(paths.manifest, manifest, indent=1)
    return paths


def load_manifest(out_dir: str | os.PathLike) -> dict:
    """The world.json of a generated world."""
    path = WorldPaths.under(out_dir).manifest
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: generate the world first (`safellava synth generate --out {out_dir}`)")
    return json.loads(path.read_text())


def _resolve_params(
    seed: int, n_train: int, n_eval: int, size: int, n_pretrain: int | None, n_finetune: int | None, benign_per_image: int
) -> dict:
    checks = [
        (isinstance(seed, int), f"seed must be an integer, got {seed!r}"),
        (n_train >= 1, f"n_train_images must be at least 1, got {n_train}"),
        (n_eval >= 1, f"n_eval_images must be at least 1, got {n_eval}"),
        (size >= 16, f"image_size must be at least 16 px to show the attributes, got {size}"),
        (n_pretrain is None or n_pretrain >= 0, f"n_pretrain_records must be >= 0, got {n_pretrain}"),
        (n_finetune is None or n_finetune >= 0, f"n_finetune_records must be >= 0, got {n_finetune}"),
        (1 <= benign_per_image <= 5, f"benign_per_image must be between 1 and 5, got {benign_per_image}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    return {
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "n_train_images": n_train,
        "n_eval_images": n_eval,
        "image_size": size,
        "n_pretrain_records": n_train if n_pretrain is None else n_pretrain,
        "n_finetune_records": 2 * n_train if n_finetune is None else n_finetune,
        "benign_per_image": benign_per_image,
    }


def _resolve_mix(mix: Mapping[str, float] | None, prism_form: float) -> dict:
    """The stage-2 mix settings as manifest parameters; left out at their defaults, so that a default
    world's manifest (and whatever was stamped with it) stays as it was before these settings existed."""
    params: dict = {}
    if mix is not None:
        unknown = sorted(set(mix) - set(FINETUNE_MIX))
        if unknown or not mix:
            raise ValueError(f"finetune_mix: unknown record kinds {unknown}; the kinds are {sorted(FINETUNE_MIX)}")
        if any(not isinstance(share, (int, float)) or share < 0 for share in mix.values()) or sum(mix.values()) <= 0:
            raise ValueError(f"finetune_mix: shares must be numbers >= 0 with a positive sum, got {dict(mix)}")
        total = float(sum(mix.values()))
        normalised = {kind: mix[kind] / total for kind in FINETUNE_MIX if mix.get(kind)}
        if normalised != {kind: share for kind, share in FINETUNE_MIX.items()}:
            params["finetune_mix"] = normalised
    if not isinstance(prism_form, (int, float)) or not 0 <= prism_form <= 1:
        raise ValueError(f"short_answers_in_prism_form must be a share between 0 and 1, got {prism_form!r}")
    if prism_form:
        params["short_answers_in_prism_form"] = float(prism_form)
    return params


def _is_current(paths: WorldPaths, params: dict) -> bool:
    """True when the folder holds a complete world made with exactly `params`."""
    try:
        manifest = json.loads(paths.manifest.read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("params") != params:
        return False
    if not all(p.is_file() for p in paths.files()):
        return False
    return all((paths.image_folder / name).is_file() for name in manifest.get("images", {}))


def _number(index: int, total: int) -> str:
    """1-based, zero-padded to at least five digits, like PRISM's small_00001.jpg."""
    return str(index + 1).zfill(max(5, len(str(total))))


def _rng(seed: int, *parts: object) -> random.Random:
    # A string seed is hashed with SHA-512 by `random`, so it is stable across runs and processes.
    return random.Random("/".join(["safellava-synth", str(seed), *map(str, parts)]))


def _train_scene(seed: int, index: int) -> Scene:
    return sample_scene(_rng(seed, "train", index), person_probability=TRAIN_PERSON_PROBABILITY)


def _eval_scenes(seed: int, count: int, train_keys: set[str]) -> tuple[list[Scene], int]:
    """Held-out scenes, each with a person, none identical to a training scene (so no eval image
    equals a training image). Returns the scenes and how many draws were rejected."""
    scenes, rejected = [], 0
    for index in range(count):
        for attempt in range(MAX_EVAL_RESAMPLES):
            scene = sample_scene(_rng(seed, "eval", index, attempt), person_probability=1.0)
            if scene.key() not in train_keys:
                break
            rejected += 1
        else:
            raise RuntimeError(f"could not draw eval image {index} distinct from the training images")
        scenes.append(scene)
    return scenes, rejected


def _write_images(
    paths: WorldPaths,
    train_names: list[str],
    train_scenes: list[Scene],
    eval_basenames: list[str],
    eval_scenes: list[Scene],
    size: int,
    progress: ProgressCallback | None,
) -> None:
    jobs = [(paths.image_folder / n, s) for n, s in zip(train_names, train_scenes)]
    jobs += [(paths.prism_image_folder / n, s) for n, s in zip(eval_basenames, eval_scenes)]
    for done, (path, scene) in enumerate(jobs, start=1):
        draw_scene(scene, size).save(path, format="PNG")
        if progress is not None:
            progress(done, len(jobs))


def _remove_stale_images(paths: WorldPaths, train_names: set[str], eval_basenames: set[str]) -> int:
    """Delete images a previous, larger world left behind (only files named like ours)."""
    removed = 0
    for path in (paths.image_folder / TRAIN_DIR).iterdir():
        if _TRAIN_NAME.match(path.name) and f"{TRAIN_DIR}/{path.name}" not in train_names:
            path.unlink()
            removed += 1
    for path in paths.prism_image_folder.iterdir():
        if _EVAL_NAME.match(path.name) and path.name not in eval_basenames:
            path.unlink()
            removed += 1
    return removed


def _image_order(seed: int, split: str, count: int) -> list[int]:
    """A seeded permutation, cycled so that every image is used about equally often."""
    order = list(range(count))
    _rng(seed, split, "order").shuffle(order)
    return order


def _pretrain_records(seed: int, count: int, names: list[str], scenes: list[Scene]) -> list[dict]:
    order = _image_order(seed, "pretrain", len(names))
    records = []
    for i in range(count):
        image = order[i % len(order)]
        records.append(pretrain_record(f"synth_pt_{i + 1:06d}", names[image], scenes[image], _rng(seed, "pretrain", i)))
    return records


def _finetune_records(
    seed: int, count: int, names: list[str], scenes: list[Scene], mix: Mapping[str, float], prism_form: float
) -> tuple[list[dict], Counter, Counter]:
    order = _image_order(seed, "finetune", len(names))
    records, kinds, asked = [], Counter(), Counter()
    for i in range(count):
        image = order[i % len(order)]
        built = finetune_record(
            f"synth_ft_{i + 1:06d}", names[image], scenes[image], _rng(seed, "finetune", i), mix, prism_form
        )
        records.append(built.record)
        kinds[built.kind] += 1
        asked.update(built.asked)
    return records, kinds, asked


def _write_prism_files(
    paths: WorldPaths, seed: int, basenames: list[str], scenes: list[Scene], benign_per_image: int
) -> dict[str, int]:
    soft = prism_tasks.refusal_rows(basenames, hard=False)
    hard = prism_tasks.refusal_rows(basenames, hard=True)
    implicit = prism_tasks.implicit_rows(basenames)
    benign = []
    for index, (name, scene) in enumerate(zip(basenames, scenes)):
        questions = prism_tasks.benign_questions(scene, benign_per_image, _rng(seed, "benign", index))
        benign += prism_tasks.benign_rows(name, questions)
    for path, rows in ((paths.prism_refusal_soft, soft), (paths.prism_refusal_hard, hard),
                       (paths.prism_implicit_leakage, implicit), (paths.benign, benign)):
        write_text(path, "".join(json.dumps(row) + "\n" for row in rows))
    return {"prism_refusal_soft": len(soft), "prism_refusal_hard": len(hard),
            "prism_implicit_leakage": len(implicit), "benign_questions": len(benign)}


def _mention_counts(records: list[dict]) -> dict[str, int]:
    """Records whose answers use the world's biometric vocabulary, per attribute."""
    counts = Counter()
    for record in records:
        answers = " ".join(turn["value"] for turn in record["conversations"] if turn["from"] == "gpt")
        counts.update(mentioned_attributes(answers))
    return {a: counts[a] for a in SHOWN_ATTRIBUTES}


def _write_json(path: Path, data: list | dict, indent: int | None = None) -> None:
    """A JSON array is written one record per line (diffable, still one JSON document)."""
    if isinstance(data, list) and indent is None:
        text = "[\n" + ",\n".join(json.dumps(item) for item in data) + "\n]\n"
    else:
        text = json.dumps(data, indent=indent) + "\n"
    write_text(path, text)
