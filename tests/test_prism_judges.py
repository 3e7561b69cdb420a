"""Judge reply parsing, the LLM judge with an in-process backend, the reply cache and prompt data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safellava.llm import ChatBackendError
from safellava.prism.judges import (
    JudgeCache,
    JudgeReplyError,
    LLMJudge,
    build_judge,
    load_judge_prompts,
    parse_leakage_reply,
    parse_refusal_reply,
)

REFERENCE_PROMPTS = Path("/work/shared/reference/prism-judge-prompts.json")


@pytest.mark.parametrize(
    "reply, refused",
    [("Yes", True), ("Yes.", True), ("yes, the model declines", True), ("**Yes**", True), (" No\n", False),
     ("no.", False), ("NO - it guesses an age", False)],
)
def test_refusal_replies_parse(reply, refused):
    assert parse_refusal_reply(reply) is refused


@pytest.mark.parametrize("reply", ["", "Maybe", "Yesterday it refused", "The answer is yes", "Refused"])
def test_unclear_refusal_replies_are_errors(reply):
    with pytest.raises(JudgeReplyError):
        parse_refusal_reply(reply)


@pytest.mark.parametrize(
    "reply, attributes",
    [
        ("none", set()),
        ("None.", set()),
        ("age, gender", {"age", "gender"}),
        ("Gender, Eye color", {"gender", "eye_color"}),
        ("eye colour", {"eye_color"}),
        ("race,weight,hair", {"race", "weight"}),  # unknown items dropped, the five kept
        ("age\ngender", {"age", "gender"}),
    ],
)
def test_leakage_replies_parse(reply, attributes):
    assert parse_leakage_reply(reply) == attributes


@pytest.mark.parametrize("reply", ["", "I cannot tell", "hair, height"])
def test_leakage_replies_naming_nothing_known_are_errors(reply):
    with pytest.raises(JudgeReplyError):
        parse_leakage_reply(reply)


def test_packaged_prompts_are_byte_exact_copies_of_prism():
    prompts = load_judge_prompts()
    if REFERENCE_PROMPTS.exists():
        reference = json.loads(REFERENCE_PROMPTS.read_text(encoding="utf-8"))
        assert prompts == {"refusal": reference["refusal"], "implicit_leakage": reference["implicit_leakage"]}
    assert "{prompt}" in prompts["refusal"] and "{response}" in prompts["refusal"]
    assert prompts["implicit_leakage"].endswith("Sentence:\n{response}\n")


class ScriptedBackend:
    """A ChatBackend answering by a function of the prompt; counts calls."""

    name = "scripted:test"

    def __init__(self, answer):
        self.answer = answer
        self.calls = 0

    def complete(self, messages):
        self.calls += 1
        return self.answer(messages[0]["content"])


def test_llm_judge_keeps_order_and_uses_prompts_with_braces_in_responses(tmp_path):
    backend = ScriptedBackend(lambda prompt: "Yes" if "sorry" in prompt else "No")
    judge = LLMJudge(backend, concurrency=3, cache=JudgeCache(tmp_path / "c.sqlite"))
    pairs = [("Q {x}", "I'm sorry {response}"), ("Q", "He is 30."), ("Q", "sorry")] * 3
    verdicts = judge.judge_refusals(pairs)
    assert [v.refused for v in verdicts] == [True, False, True] * 3
    assert judge.judge_refusals(pairs) == verdicts
    # the 3 distinct prompts were asked once each; everything else came from the cache
    assert backend.calls == 3


def test_cache_survives_reopening_and_separates_judges(tmp_path):
    path = tmp_path / "cache.sqlite"
    first = ScriptedBackend(lambda prompt: "age")
    LLMJudge(first, cache=JudgeCache(path)).judge_leakage(["an old man"])
    again = ScriptedBackend(lambda prompt: "gender")
    verdict = LLMJudge(again, cache=JudgeCache(path)).judge_leakage(["an old man"])[0]
    assert verdict.attributes == {"age"} and again.calls == 0
    other = ScriptedBackend(lambda prompt: "gender")
    other.name = "scripted:other"
    assert LLMJudge(other, cache=JudgeCache(path)).judge_leakage(["an old man"])[0].attributes == {"gender"}


def test_backend_failure_is_a_judge_error_not_a_verdict():
    def fail(prompt):
        raise ChatBackendError("service unavailable", retryable=True)

    verdict = LLMJudge(ScriptedBackend(fail)).judge_leakage(["text"])[0]
    assert verdict.attributes is None and "service unavailable" in verdict.error


def test_build_judge_validates_its_options(monkeypatch):
    with pytest.raises(ValueError, match="unknown judge"):
        build_judge("gpt")
    with pytest.raises(ValueError, match="needs a model name"):
        build_judge("openai")
    monkeypatch.delenv("SOME_MISSING_KEY", raising=False)
    with pytest.raises(ChatBackendError, match="SOME_MISSING_KEY"):
        build_judge("openai", model="gpt-5-nano", api_key_env="SOME_MISSING_KEY", use_cache=False)
