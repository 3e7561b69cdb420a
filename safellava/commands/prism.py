"""`safellava prism …`: generate answers to PRISM, judge them, score them, compare runs."""

from __future__ import annotations

import argparse
import sys

RUN_EXAMPLES = """examples:
  safellava prism run --model runs/demo/safe --tasks runs/demo/world/prism --images runs/demo/world/images --out runs/demo/prism-safe
  safellava prism run --model llava-hf/llava-1.5-7b-hf --tasks PRISM/ --images PRISM/images --out out/llava15 \\
      --judge openai --judge-model gpt-5-nano --limit 200 --seed 0
  accelerate launch -m safellava.cli prism run --model ... --out ...   # one shard per process
"""
SCORE_EXAMPLES = """examples:
  safellava prism score --answers out/llava15/answers --out out/llava15-rescored
  safellava prism score --answers small_answers.jsonl --task implicit_leakage --out out/x \\
      --judge openai --judge-model gemini-2.0-flash --judge-temperature 0 \\
      --judge-base-url https://generativelanguage.googleapis.com/v1beta/openai --judge-api-key-env GEMINI_API_KEY
  safellava prism score --answers out/a/answers --tasks world/prism --out out/a-scored   # counts missing answers
"""
LMMS_EVAL_EXAMPLES = """examples:
  safellava prism lmms-eval-tasks --tasks runs/demo/world/prism --images runs/demo/world/images --out lmms-tasks
  lmms-eval --model llava_hf --model_args pretrained=runs/demo/safe/final,device=cpu,device_map=cpu \\
      --tasks prism_refusal_soft,prism_refusal_hard,prism_implicit_leakage,prism_benign --include_path lmms-tasks
  safellava prism lmms-eval-tasks --tasks PRISM/ --images PRISM/images --out lmms-prism --judge openai --judge-model gpt-5-nano
"""
COMPARE_EXAMPLES = """examples:
  safellava prism compare runs/demo/prism-raw runs/demo/prism-safe
  safellava prism compare out/*/ --out comparison.md
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prism", help="PRISM privacy benchmark: run, score, compare, lmms-eval tasks")
    commands = parser.add_subparsers(dest="prism_command", metavar="<prism command>")
    commands.required = True

    run = commands.add_parser(
        "run",
        help="generate answers with a model, judge and score them",
        description="Answer PRISM's questions with an image-text-to-text model (batched, greedy, resumable: "
        "a rerun skips answered questions), then judge and score. Writes answers/, judged/, "
        "summary.json, summary.md and protection.png in --out.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--model", required=True, help="model folder or hub id (loaded offline from the cache)")
    run.add_argument("--model-id", help="name recorded in answers and reports (default: --model)")
    run.add_argument(
        "--template",
        help="conversation template to prompt with (default: the one in the model's safellava.json, "
        "else the processor's chat template)",
    )
    run.add_argument("--dtype", default="auto", help="auto, bfloat16, float16 or float32 (default auto)")
    _add_tasks_arguments(run, required=True)
    run.add_argument("--images", required=True, help="image folder; images are found by basename below it")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--max-new-tokens", type=int, default=200, help="answer length limit (default 200, as PRISM)")
    run.add_argument("--batch-size", type=int, default=8, help="questions per generate call (default 8)")
    run.add_argument("--limit", type=int, help="answer at most N questions per task, drawn with --seed")
    run.add_argument("--seed", type=int, default=0, help="seed of the --limit draw (default 0)")
    run.add_argument(
        "--first-line",
        action="store_true",
        help="keep only each answer's first line (PRISM's script did this for its own models; biased)",
    )
    _add_judge_arguments(run)
    run.set_defaults(func=run_run)

    score = commands.add_parser(
        "score",
        help="judge and score existing answer files",
        description="Judge and score PRISM answer files (ours or the ones published with PRISM). The task of "
        "each file comes from its name (refusal_soft, refusal_hard, implicit_leakage, benign) or "
        "--task. With --tasks, answers are matched to questions and unanswered ones counted as "
        "missing (required for benign accuracy).",
        epilog=SCORE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("--answers", nargs="+", required=True, help="answer files or folders of *.jsonl")
    score.add_argument("--out", required=True, help="output folder")
    score.add_argument("--model-id", help="model name for the report (default: the answers' model_id)")
    _add_tasks_arguments(score, required=False)
    _add_judge_arguments(score)
    score.set_defaults(func=run_score)

    lmms = commands.add_parser(
        "lmms-eval-tasks",
        help="write PRISM's tasks as lmms-eval task definitions",
        description="Write lmms-eval task definitions (prism_refusal_soft, prism_refusal_hard, "
        "prism_implicit_leakage, prism_benign and the group prism) for the given PRISM task files, "
        "scored by this project's judges with the figures of `safellava prism score`. Run them with "
        "`lmms-eval --include_path OUT --tasks prism_...` (installing lmms-eval: docs/prism.md, 'In lmms-eval'). "
        "An openai judge's model and endpoint left open here are read from lmms-eval's MODEL_VERSION and "
        "OPENAI_API_URL when it scores.",
        epilog=LMMS_EVAL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lmms.add_argument("--out", required=True, help="folder for the task definitions (lmms-eval's --include_path)")
    _add_tasks_arguments(lmms, required=True)
    lmms.add_argument("--images", required=True, help="image folder; images are found by basename below it")
    lmms.add_argument("--max-new-tokens", type=int, default=200, help="answer length limit (default 200, as PRISM)")
    lmms.add_argument("--limit", type=int, help="keep at most N questions per task, drawn with --seed as prism run does")
    lmms.add_argument("--seed", type=int, default=0, help="seed of the --limit draw (default 0)")
    lmms.add_argument("--first-line", action="store_true", help="judge only each answer's first line (as prism run)")
    _add_judge_arguments(lmms)
    lmms.set_defaults(func=run_lmms_eval_tasks)

    compare = commands.add_parser(
        "compare",
        help="one Markdown table across runs (paper layout)",
        epilog=COMPARE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("runs", nargs="+", help="output folders of prism run/score (or summary.json files)")
    compare.add_argument("--out", help="also write the table to this Markdown file")
    compare.set_defaults(func=run_compare)


def _add_tasks_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--tasks",
        nargs="+",
        required=required,
        help="PRISM task files or folders ({small,large}_PRISM_*.jsonl, synth_*.jsonl)",
    )
    parser.add_argument(
        "--task",
        choices=("refusal_soft", "refusal_hard", "implicit_leakage", "benign"),
        help="treat every given file as this task instead of reading it from the file name",
    )


def _add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("judge")
    group.add_argument(
        "--judge",
        choices=("lexicon", "openai", "hf"),
        default="lexicon",
        help="lexicon: offline keyword judge (default); openai: any OpenAI-compatible endpoint; "
        "hf: a local chat model",
    )
    group.add_argument("--judge-model", help="judge model, e.g. gpt-5-nano, gemini-2.0-flash, or a local folder")
    group.add_argument("--judge-base-url", help="OpenAI-compatible base URL (default https://api.openai.com/v1)")
    group.add_argument(
        "--judge-api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default OPENAI_API_KEY; '' for none)",
    )
    group.add_argument("--judge-temperature", type=float, help="sent only when given (gemini: 0)")
    group.add_argument("--judge-concurrency", type=int, default=8, help="requests in flight (default 8)")
    group.add_argument("--judge-timeout", type=float, default=60.0, help="seconds per request (default 60)")
    group.add_argument("--judge-attempts", type=int, default=6, help="tries per request (default 6)")
    group.add_argument("--judge-cache", help="reply cache file (default ~/.cache/safellava/prism_judge_cache.sqlite)")
    group.add_argument("--no-judge-cache", action="store_true", help="do not read or write the reply cache")


def _judge_options(args: argparse.Namespace) -> dict:
    """`build_judge`'s options from the judge arguments (checked)."""
    if args.judge_concurrency < 1 or args.judge_attempts < 1:
        raise SystemExit("--judge-concurrency and --judge-attempts must be at least 1")
    return {
        "model": args.judge_model,
        "base_url": args.judge_base_url,
        "api_key_env": args.judge_api_key_env or None,
        "temperature": args.judge_temperature,
        "timeout": args.judge_timeout,
        "max_attempts": args.judge_attempts,
        "concurrency": args.judge_concurrency,
        "cache_path": args.judge_cache,
        "use_cache": not args.no_judge_cache,
    }


def _judge(args: argparse.Namespace):
    from safellava.prism.judges import build_judge

    return build_judge(args.judge, **_judge_options(args), show_progress=True)


def _user_errors() -> tuple[type[BaseException], ...]:
    from safellava.data.images import ImageLoadError
    from safellava.errors import UserError

    # Task/answer file errors, scoring errors and chat-backend errors are all UserErrors; an image that
    # does not decode names its file.
    return (UserError, FileNotFoundError, ImageLoadError)


def _load_task_set(args: argparse.Namespace):
    from safellava.prism.tasks import load_tasks

    task_set = load_tasks(args.tasks, task=args.task)
    for skipped in task_set.skipped_files:
        print(f"note: {skipped} names no PRISM task; not used", file=sys.stderr)
    return task_set


def _finish(summary: dict, out: str) -> None:
    from safellava.prism.report import summary_markdown

    print(summary_markdown(summary))
    errors = sum(summary[t].get("judge_errors", 0) for t in summary if t != "meta")
    if errors:
        print(
            f"warning: {errors} response(s) got no verdict from the judge; they are left out of the "
            f"figures they affect (see judge_errors in {out}/summary.json). Rerun to retry them.",
            file=sys.stderr,
        )
    print(f"wrote {out}/summary.json, summary.md", file=sys.stderr)


def run_run(args: argparse.Namespace) -> int:
    try:
        from safellava.distributed import distributed_state
        from safellava.prism.generate import GenerationSettings, load_model
        from safellava.prism.pipeline import locate_images, run_prism
        from safellava.prism.tasks import sample_tasks

        for flag, value in (("--limit", args.limit), ("--batch-size", args.batch_size), ("--max-new-tokens", args.max_new_tokens)):
            if value is not None and value < 1:
                raise SystemExit(f"{flag} must be at least 1")
        task_set = _load_task_set(args)
        if args.limit is not None:
            task_set = sample_tasks(task_set, args.limit, args.seed)
        image_paths = locate_images(task_set, args.images)  # every image checked before the model loads
        state = distributed_state()
        judge = _judge(args) if state.is_main_process else None
        loaded = load_model(args.model, dtype=args.dtype, template=args.template)
        summary = run_prism(
            loaded.model,
            loaded.processor,
            task_set,
            args.images,
            args.out,
            judge,  # type: ignore[arg-type]  (only the main process judges)
            model_id=args.model_id or args.model,
            template=loaded.template,
            image_aspect=loaded.image_aspect,
            settings=GenerationSettings(args.batch_size, args.max_new_tokens, args.first_line),
            meta={"limit": args.limit, "seed": args.seed if args.limit is not None else None},
            image_paths=image_paths,
        )
    except _user_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if summary is not None:
        _finish(summary, args.out)
    return 0


def run_score(args: argparse.Namespace) -> int:
    try:
        from safellava.prism.pipeline import score_answer_files

        task_set = _load_task_set(args) if args.tasks else None
        meta = {"model_id": args.model_id} if args.model_id else None
        summary, _ = score_answer_files(
            args.answers, args.out, _judge(args), task=args.task, task_set=task_set, meta=meta
        )
    except _user_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _finish(summary, args.out)
    return 0


def run_lmms_eval_tasks(args: argparse.Namespace) -> int:
    try:
        from safellava.prism.lmms_eval.writer import write_task_definitions
        from safellava.prism.pipeline import locate_images
        from safellava.prism.tasks import sample_tasks

        for flag, value in (("--limit", args.limit), ("--max-new-tokens", args.max_new_tokens)):
            if value is not None and value < 1:
                raise SystemExit(f"{flag} must be at least 1")
        options = _judge_options(args)
        task_set = _load_task_set(args)
        if args.limit is not None:
            task_set = sample_tasks(task_set, args.limit, args.seed)
        written = write_task_definitions(
            task_set,
            locate_images(task_set, args.images),  # every image checked now, not halfway through an evaluation
            args.out,
            judge=args.judge,
            judge_options=options,
            max_new_tokens=args.max_new_tokens,
            first_line=args.first_line,
            limit=args.limit,
            seed=args.seed if args.limit is not None else None,
        )
    except _user_errors() as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    tasks = [path.stem for path in written if path.suffix == ".yaml"]
    print(f"wrote {len(written)} files in {args.out}: lmms-eval tasks {', '.join(tasks)}")
    print(
        f"run: lmms-eval --model llava_hf --model_args pretrained=MODEL,device=cpu,device_map=cpu "
        f"--tasks {','.join(tasks[:-1])} --include_path {args.out}   (on a GPU: device=cuda:0,device_map=cuda:0)"
    )
    return 0


def run_compare(args: argparse.Namespace) -> int:

    from safellava.atomic import write_text
    from safellava.prism.report import compare_markdown

    try:
        table = compare_markdown(args.runs)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(table)
    if args.out:
        write_text(args.out, table)
    return 0
