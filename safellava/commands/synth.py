"""`safellava synth …`: the deterministic synthetic world (images, raw LLaVA data, PRISM-format tasks)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safellava.synth import WorldPaths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="generate the offline synthetic world used by tests, the demo and the reproduction script",
        description="A deterministic synthetic world: images of a person beside coloured shapes, raw "
        "LLaVA-style stage-1/stage-2 data about them, and PRISM-format tasks on held-out images.",
    )
    actions = parser.add_subparsers(dest="synth_command", metavar="<action>")
    actions.required = True
    generate = actions.add_parser(
        "generate",
        help="write a world to a folder (reused when it already matches)",
        description="Write images, pretrain.json, finetune.json, PRISM-format task files, a benign "
        "control set and world.json to --out. Same seed and sizes give the same bytes; a folder that "
        "already holds a world with the same parameters is reused as is.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  safellava synth generate --out data/synth --seed 0 --train-images 2000 --eval-images 50\n",
    )
    generate.add_argument("--out", required=True, help="folder to write the world into")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument("--train-images", type=int, default=2000, help="training images (default 2000)")
    generate.add_argument("--eval-images", type=int, default=50, help="held-out PRISM images (default 50)")
    generate.add_argument("--image-size", type=int, default=64, help="image side in pixels (default 64)")
    generate.add_argument(
        "--pretrain-records", type=int, default=None, help="stage-1 records (default: one per training image)"
    )
    generate.add_argument(
        "--finetune-records", type=int, default=None, help="stage-2 records (default: two per training image)"
    )
    generate.add_argument("--benign-per-image", type=int, default=2, help="benign questions per eval image (1-5)")
    generate.add_argument(
        "--finetune-mix", type=_mix, default=None, metavar="KIND=SHARE,...",
        help="stage-2 record kinds and their shares, e.g. vqa=0.74,biometric=0.16,conversation=0.04,caption=0.06 "
        "(kinds: vqa, conversation, detail, biometric, caption, text; default: LLaVA's mix in miniature)",
    )
    generate.add_argument(
        "--short-answers-in-prism-form", type=float, default=0.0, metavar="SHARE",
        help="share of short-answer questions asked as '<question>\\nAnswer' (PRISM's form) instead of with "
        "LLaVA's single-word instruction (default 0)",
    )
    generate.set_defaults(func=run_generate)


def _mix(text: str) -> dict[str, float]:
    """'vqa=0.7,biometric=0.3' → {"vqa": 0.7, "biometric": 0.3}; shares are checked by generate_world."""
    mix = {}
    for item in text.split(","):
        kind, _, share = item.partition("=")
        try:
            mix[kind.strip()] = float(share)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not KIND=SHARE (e.g. vqa=0.7)") from None
    return mix


def run_generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from safellava.synth import generate_world, load_manifest

    start = time.perf_counter()
    with tqdm(desc="drawing images", unit="img", file=sys.stderr, leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            paths = generate_world(
                args.out,
                seed=args.seed,
                n_train_images=args.train_images,
                n_eval_images=args.eval_images,
                image_size=args.image_size,
                n_pretrain_records=args.pretrain_records,
                n_finetune_records=args.finetune_records,
                benign_per_image=args.benign_per_image,
                finetune_mix=args.finetune_mix,
                short_answers_in_prism_form=args.short_answers_in_prism_form,
                progress=progress,
            )
        except ValueError as error:
            # Same form as the errors safellava.cli prints for UserError.
            print(f"safellava synth: error: {error}", file=sys.stderr)
            return 2
    seconds = time.perf_counter() - start
    manifest = load_manifest(paths.root)
    print(_summary(paths, manifest, seconds))
    return 0


def _summary(paths: WorldPaths, manifest: dict, seconds: float) -> str:
    counts, mentions = manifest["counts"], manifest["mentions"]
    kinds = ", ".join(f"{kind} {n}" for kind, n in counts["finetune_kinds"].items())
    how = "reused (world.json matches these parameters)" if paths.reused else f"generated in {seconds:.1f} s"
    lines = [
        f"world: {paths.root} — {how}, seed {manifest['params']['seed']}",
        f"  images:    {paths.image_folder}  (train {counts['train_images']} in synth/, "
        f"eval {counts['eval_images']} in eval/, {manifest['params']['image_size']} px)",
        f"  stage 1:   {paths.pretrain}  ({counts['pretrain_records']} records)",
        f"  stage 2:   {paths.finetune}  ({counts['finetune_records']} records: {kinds})",
        f"  PRISM:     {paths.prism_refusal_soft.parent}  (refusal soft {counts['prism_refusal_soft']}, "
        f"hard {counts['prism_refusal_hard']}, implicit {counts['prism_implicit_leakage']}; "
        f"image root {paths.prism_image_folder})",
        f"  benign:    {paths.benign}  ({counts['benign_questions']} questions)",
        f"  manifest:  {paths.manifest}",
        "  records mentioning each attribute (stage 1 / stage 2): "
        + ", ".join(f"{a} {mentions['pretrain'][a]}/{mentions['finetune'][a]}" for a in mentions["pretrain"]),
    ]
    return "\n".join(lines)
