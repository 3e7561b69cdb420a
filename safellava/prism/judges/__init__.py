"""PRISM judges behind one interface (`Judge`): `lexicon` (offline default), `openai`, `hf`."""

from __future__ import annotations

from pathlib import Path

from safellava.prism.judges.base import Judge, LeakageVerdict, RefusalVerdict
from safellava.prism.judges.cache import JudgeCache, default_cache_path
from safellava.prism.judges.llm import LLMJudge, load_judge_prompts
from safellava.prism.judges.parsing import JudgeReplyError, parse_leakage_reply, parse_refusal_reply

JUDGE_KINDS = ("lexicon", "openai", "hf")

__all__ = [
    "JUDGE_KINDS",
    "Judge",
    "JudgeCache",
    "JudgeReplyError",
    "LLMJudge",
    "LeakageVerdict",
    "RefusalVerdict",
    "build_judge",
    "default_cache_path",
    "load_judge_prompts",
    "parse_leakage_reply",
    "parse_refusal_reply",
]


def build_judge(
    kind: str = "lexicon",
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = "OPENAI_API_KEY",
    temperature: float | None = None,
    timeout: float = 60.0,
    max_attempts: int = 6,
    concurrency: int = 8,
    batch_size: int = 8,
    cache_path: str | Path | None = None,
    use_cache: bool = True,
    show_progress: bool = False,
) -> Judge:
    """Build a judge by kind.

    - "lexicon": offline keyword judge (no options).
    - "openai": `model` (e.g. "gpt-5-nano") at `base_url` (default OpenAI) with the key in the
      environment variable `api_key_env`; `concurrency` threads; `max_attempts` tries per request.
    - "hf": a local chat model `model` (folder or cached hub id), greedy, `batch_size` per call.
    LLM judges cache replies at `cache_path` (default `default_cache_path()`) unless `use_cache` is False.
    """
    if kind == "lexicon":
        from safellava.prism.judges.lexicon import LexiconJudge

        return LexiconJudge()
    if kind not in JUDGE_KINDS:
        raise ValueError(f"unknown judge {kind!r}; choose one of {', '.join(JUDGE_KINDS)}.")
    if not model:
        example = "gpt-5-nano" if kind == "openai" else "Qwen/Qwen2.5-7B-Instruct"
        raise ValueError(f"the {kind} judge needs a model name (e.g. --judge-model {example}).")
    if kind == "openai":
        from safellava.llm.openai_compatible import OPENAI_BASE_URL, OpenAICompatibleBackend, RetryPolicy

        backend = OpenAICompatibleBackend(
            model,
            base_url=base_url or OPENAI_BASE_URL,
            api_key_env=api_key_env,
            temperature=temperature,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max_attempts),
        )
    else:
        from safellava.llm.hf_local import HFLocalBackend

        backend = HFLocalBackend(model)
    cache = JudgeCache(cache_path or default_cache_path()) if use_cache else None
    return LLMJudge(backend, concurrency=concurrency, batch_size=batch_size, cache=cache, show_progress=show_progress)
