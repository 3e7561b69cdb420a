"""`safellava audit …` and `safellava clean …`: biometric mentions in LLaVA conversation data.

Exit status (both): 0 = every record read and processed; 1 = done, but some records could not be read
(listed; `clean` left them out of its output); 2 = unusable input or an output that would overwrite an
input (nothing written)."""

from __future__ import annotations

import argparse
import json
import os
import sys

AUDIT_EXAMPLES = """examples:
  safellava audit blip_laion_cc_sbu_558k.json
  safellava audit llava_v1_5_mix665k.json --json audit.json --examples 5 --workers 8
  safellava audit Safe_llava_v1_5_mix665k.json part2.jsonl

exit status: 0 = every record audited, 1 = some records unreadable (listed) or a file broken before its
end, 2 = unusable input (e.g. --json pointing at an input)
"""
CLEAN_EXAMPLES = """examples:
  safellava clean llava_v1_5_mix665k.json safe_mix665k.json --changes changes.jsonl --stats stats.json
  safellava clean captions.jsonl safe_captions.jsonl --refusal "I can't help with that." --workers 4
  safellava clean mix.json safe_mix.json --llm openai --llm-model gpt-4o-mini --stats stats.json
  safellava clean mix.json safe_mix.json --llm hf --llm-model /models/Qwen2.5-7B-Instruct

exit status: 0 = every record cleaned, 1 = written, but unreadable records were left out (listed in the
summary and in --stats), 2 = nothing written (unusable input, JSON broken mid-file, an output that is
the input). Outputs appear only when complete; an interrupted run leaves none.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from safellava.attributes import ATTRIBUTES
    from safellava.privacy.parallel import default_workers

    audit = subparsers.add_parser(
        "audit",
        help="count records whose answers mention (or questions ask for) biometric attributes",
        description=f"Audit LLaVA JSON/JSONL conversation files for the biometric attributes ({', '.join(ATTRIBUTES)}): "
        "per attribute, the records whose assistant answers/captions mention it and the "
        "records with a human question asking for it. Prints a Markdown table with examples; malformed "
        "records are counted and listed.",
        epilog=AUDIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("files", nargs="+", help="LLaVA JSON (a list) or JSONL files")
    audit.add_argument("--json", dest="json_path", help="also write the counts as JSON to this file")
    audit.add_argument("--examples", type=int, default=3, help="examples shown per attribute (default 3)")
    audit.add_argument(
        "--workers", type=int, default=default_workers(), help=f"worker processes (default {default_workers()})"
    )
    audit.add_argument("--no-progress", action="store_true", help="no progress bar")
    audit.set_defaults(func=run_audit)

    clean = subparsers.add_parser(
        "clean",
        help="write a Safe-LLaVA-style copy: refusals for biometric questions, neutral descriptions",
        description="Write a Safe-LLaVA-style copy of a LLaVA JSON/JSONL file: answers to questions asking for a "
        "biometric attribute become a refusal; biometric descriptors in answers and captions are "
        "rewritten to neutral words (optionally with an LLM, guarded for fidelity). Ids, images, record "
        "order and structure are kept; a record whose turns cannot be read is left out and listed, never "
        "copied through unread.",
        epilog=CLEAN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    clean.add_argument("input", help="LLaVA JSON (a list) or JSONL file")
    clean.add_argument("output", help="where to write the cleaned file (same format as the input)")
    clean.add_argument("--refusal", help="answer to biometric questions (default: Safe-LLaVA's refusal)")
    clean.add_argument("--changes", help="write every change as JSON Lines (id, turn, rule, before, after)")
    clean.add_argument("--stats", help="write the statistics as JSON to this file")
    clean.add_argument(
        "--workers", type=int, default=default_workers(), help=f"worker processes (default {default_workers()})"
    )
    clean.add_argument("--no-progress", action="store_true", help="no progress bar")
    group = clean.add_argument_group("LLM rewriting (for what the rules cannot rewrite)")
    group.add_argument("--llm", choices=("openai", "hf"), help="openai: any OpenAI-compatible endpoint; hf: a local chat model")
    group.add_argument("--llm-model", help="model name (openai) or folder/hub id (hf)")
    group.add_argument("--llm-base-url", help="OpenAI-compatible base URL (default https://api.openai.com/v1)")
    group.add_argument("--llm-api-key-env", default="OPENAI_API_KEY", help="variable holding the API key ('' for none)")
    group.add_argument("--llm-temperature", type=float, help="sent only when given")
    group.add_argument("--llm-concurrency", type=int, default=4, help="requests in flight (default 4)")
    group.add_argument(
        "--fidelity-threshold",
        type=float,
        default=0.9,
        help="share of the original's non-biometric content words an LLM rewrite must keep (default 0.9)",
    )
    clean.set_defaults(func=run_clean)


def run_audit(args: argparse.Namespace) -> int:
    from safellava.atomic import refuse_overwriting_inputs, write_json
    from safellava.privacy.audit import audit_files, format_markdown

    _check_files(args.files)
    refuse_overwriting_inputs(args.files, {"--json": args.json_path})
    report = audit_files(args.files, examples=args.examples, workers=args.workers, progress=not args.no_progress)
    sys.stdout.write(format_markdown(report))
    if args.json_path:
        write_json(args.json_path, report.to_json())
    if report.complete():
        return 0
    print(
        f"note: {len(report.unreadable):,} unreadable records were not audited"
        + (f"; {len(report.file_faults)} file(s) could not be read to the end" if report.file_faults else "")
        + " (listed above)",
        file=sys.stderr,
    )
    return 1


def run_clean(args: argparse.Namespace) -> int:
    from safellava.atomic import refuse_overwriting_inputs, write_json
    from safellava.privacy.clean import clean_file
    from safellava.attributes import ATTRIBUTES, SAFE_LLAVA_REFUSAL

    _check_files([args.input])
    refuse_overwriting_inputs([args.input], {"output": args.output, "--changes": args.changes, "--stats": args.stats})
    backend = _llm_backend(args) if args.llm else None
    stats = clean_file(
        args.input,
        args.output,
        refusal=args.refusal or SAFE_LLAVA_REFUSAL,
        changes_path=args.changes,
        llm=backend,
        fidelity_threshold=args.fidelity_threshold,
        llm_concurrency=args.llm_concurrency,
        workers=args.workers,
        progress=not args.no_progress,
    )
    summary = stats.to_json()
    if args.stats:
        write_json(args.stats, summary)
    left = summary["residual"]["records"]
    print(
        f"cleaned {stats.records:,} records in {stats.seconds:.1f} s: {stats.records_changed:,} changed "
        f"({stats.explicit_refusals:,} refusals, {stats.implicit_rewrites:,} rewrites, "
        f"{stats.all_biometric_refusals:,} all-biometric answers refused); {stats.records_written:,} written."
        f"\nstill mentioned (records): " + ", ".join(f"{a} {left[a]:,}" for a in ATTRIBUTES)
        + (" — see --changes for each one and why" if any(left.values()) else "")
    )
    if summary["llm"]:
        print(f"llm: {json.dumps(summary['llm'])}")
    if not stats.dropped:
        return 0
    print(f"{len(stats.dropped):,} unreadable records were LEFT OUT of {args.output} (not cleaned, not copied):", file=sys.stderr)
    for dropped in stats.dropped[:20]:
        print(f"  line {dropped['line']} (id {dropped['id']}): {dropped['reason']}", file=sys.stderr)
    if len(stats.dropped) > 20:
        print(f"  … and {len(stats.dropped) - 20:,} more (all in --stats)", file=sys.stderr)
    return 1


def _llm_backend(args: argparse.Namespace):
    if not args.llm_model:
        from safellava.errors import UserError

        raise UserError("clean --llm needs --llm-model (a model name, or a folder for --llm hf).")
    if args.llm == "hf":
        from safellava.llm import HFLocalBackend

        return HFLocalBackend(args.llm_model, max_new_tokens=512)
    from safellava.llm import OpenAICompatibleBackend
    from safellava.llm.openai_compatible import OPENAI_BASE_URL

    return OpenAICompatibleBackend(
        args.llm_model,
        base_url=args.llm_base_url or OPENAI_BASE_URL,
        api_key_env=args.llm_api_key_env or None,
        temperature=args.llm_temperature,
    )


def _check_files(paths: list[str]) -> None:
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such file (give a LLaVA .json or .jsonl file)")
