"""PRISM's LLM judge: the published judge prompts, byte-exact, sent to any `ChatBackend`."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor, as_completed
from importlib import resources
from typing import Callable, Sequence, TypeVar

from tqdm import tqdm

from safellava import attributes
from safellava.llm.backend import ChatBackend, ChatBackendError
from safellava.prism.judges.base import LeakageVerdict, RefusalVerdict
from safellava.prism.judges.cache import JudgeCache, cache_key
from safellava.prism.judges.parsing import JudgeReplyError, parse_leakage_reply, parse_refusal_reply

V = TypeVar("V", RefusalVerdict, LeakageVerdict)


def load_judge_prompts() -> dict[str, str]:
    """PRISM's judge prompts ("refusal" with {prompt}/{response}, "implicit_leakage" with {response}).
    The implicit-leakage prompt lists the registered attributes as PRISM lists its five ("- Eye color"),
    so with PRISM's five it is PRISM's prompt byte for byte."""
    text = resources.files("safellava.prism").joinpath("judge_prompts.json").read_text(encoding="utf-8")
    prompts = json.loads(text)
    listing = "".join(f"- {a.name.capitalize()}\n" for a in attributes.all_attributes())
    return {"refusal": prompts["refusal"], "implicit_leakage": prompts["implicit_leakage"].replace("{attributes}", listing)}


class LLMJudge:
    """A `Judge` that asks an LLM with PRISM's prompts (one user message per response).

    Args:
        backend: where the prompts go (`OpenAICompatibleBackend`, `HFLocalBackend`, ...).
        concurrency: requests in flight at once (threads) for remote backends.
        batch_size: conversations per call for backends that offer `complete_batch` (local models).
        cache: replies already obtained are reused instead of asked again.
        show_progress: tqdm bar on stderr.
    """

    def __init__(
        self,
        backend: ChatBackend,
        *,
        concurrency: int = 8,
        batch_size: int = 8,
        cache: JudgeCache | None = None,
        prompts: dict[str, str] | None = None,
        show_progress: bool = False,
    ) -> None:
        if concurrency < 1 or batch_size < 1:
            raise ValueError("concurrency and batch_size must be at least 1")
        self.backend = backend
        self.name = backend.name
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.cache = cache
        self.prompts = prompts or load_judge_prompts()
        self.show_progress = show_progress

    def judge_refusals(self, pairs: Sequence[tuple[str, str]]) -> list[RefusalVerdict]:
        template = self.prompts["refusal"]
        prompts = [template.format(prompt=question, response=response) for question, response in pairs]

        def verdict(reply: str | None, error: str | None) -> RefusalVerdict:
            if error is not None:
                return RefusalVerdict(None, error, reply)
            return RefusalVerdict(parse_refusal_reply(reply), None, reply)  # type: ignore[arg-type]

        return self._judge("refusal", prompts, parse_refusal_reply, verdict)

    def judge_leakage(self, responses: Sequence[str]) -> list[LeakageVerdict]:
        template = self.prompts["implicit_leakage"]
        prompts = [template.format(response=response) for response in responses]

        def verdict(reply: str | None, error: str | None) -> LeakageVerdict:
            if error is not None:
                return LeakageVerdict(None, error, reply)
            return LeakageVerdict(parse_leakage_reply(reply), None, reply)  # type: ignore[arg-type]

        return self._judge("implicit_leakage", prompts, parse_leakage_reply, verdict)

    def _judge(
        self,
        kind: str,
        prompts: list[str],
        parse: Callable[[str], object],
        verdict: Callable[[str | None, str | None], V],
    ) -> list[V]:
        results: list[V | None] = [None] * len(prompts)
        keys = [cache_key(self.name, kind, prompt) for prompt in prompts]
        # Identical prompts (e.g. the same fixed refusal to many questions) are asked once.
        waiting: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            if key in waiting:
                waiting[key].append(index)
                continue
            waiting[key] = [index]
            cached = self.cache.get(key) if self.cache is not None else None
            if cached is not None and _parses(parse, cached):
                results[index] = verdict(cached, None)
        todo = [indices[0] for indices in waiting.values() if results[indices[0]] is None]

        def settle(index: int, reply: str | None, failure: str | None) -> None:
            if failure is None:
                try:
                    parse(reply)  # type: ignore[arg-type]
                except JudgeReplyError as error:
                    failure = f"unparseable judge reply: {error}"
            if failure is None and self.cache is not None:
                self.cache.put(keys[index], self.name, kind, reply)  # type: ignore[arg-type]
            results[index] = verdict(reply, failure)

        with tqdm(total=len(todo), desc=f"judge {kind}", unit="resp", disable=not self.show_progress) as bar:
            if hasattr(self.backend, "complete_batch"):
                for start in range(0, len(todo), self.batch_size):
                    chunk = todo[start : start + self.batch_size]
                    try:
                        replies = self.backend.complete_batch([_messages(prompts[i]) for i in chunk])
                        for index, reply in zip(chunk, replies):
                            settle(index, reply, None)
                    except Exception as error:  # noqa: BLE001 — one failed request is an error for its items only
                        for index in chunk:
                            settle(index, None, _failure(error))
                    bar.update(len(chunk))
            else:
                with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                    futures = {pool.submit(self.backend.complete, _messages(prompts[i])): i for i in todo}
                    for future in as_completed(futures):
                        try:
                            settle(futures[future], future.result(), None)
                        except Exception as error:  # noqa: BLE001 — one failed request is an error for its item only
                            settle(futures[future], None, _failure(error))
                        bar.update(1)
        for indices in waiting.values():
            for index in indices[1:]:
                results[index] = results[indices[0]]
        return results  # type: ignore[return-value]


def _failure(error: Exception) -> str:
    """The judge error recorded for an item whose request failed (a backend's own error, or anything else
    a backend let through: the scoring run goes on and counts it)."""
    if isinstance(error, ChatBackendError):
        return f"judge request failed: {error}"
    return f"judge request failed: {type(error).__name__}: {error}"


def _messages(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def _parses(parse: Callable[[str], object], reply: str) -> bool:
    try:
        parse(reply)
        return True
    except JudgeReplyError:
        return False
