"""OpenAICompatibleBackend and the PRISM openai judge against a stub OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import time

import pytest
from prism_stub_server import RawReply, StubServer

from safellava.llm import ChatBackendError, OpenAICompatibleBackend, RetryPolicy
from safellava.prism.judges import JudgeCache, LLMJudge, load_judge_prompts

FAST = RetryPolicy(max_attempts=3, initial_delay=0.01, max_delay=0.05, jitter=0.0)


@pytest.fixture
def stub():
    servers = []

    def start(behave):
        server = StubServer(behave)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", "sk-test")


def backend(server, **kwargs):
    options = {"api_key_env": "STUB_API_KEY", "retry": FAST, "timeout": 2.0} | kwargs
    return OpenAICompatibleBackend("judge-model", base_url=server.base_url, **options)


def test_good_reply_and_request_format(stub):
    server = stub(lambda body: (200, "No", 0))
    reply = backend(server, temperature=0.0).complete([{"role": "user", "content": "hi"}])
    assert reply == "No"
    assert server.requests[0] == {"model": "judge-model", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.0}
    assert server.headers[0]["Authorization"] == "Bearer sk-test"


def test_temperature_is_not_sent_by_default(stub):
    server = stub(lambda body: (200, "Yes.", 0))
    backend(server).complete([{"role": "user", "content": "hi"}])
    assert "temperature" not in server.requests[0]


def test_missing_api_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("NOT_SET_KEY", raising=False)
    with pytest.raises(ChatBackendError, match="NOT_SET_KEY"):
        OpenAICompatibleBackend("m", base_url="http://127.0.0.1:9/v1", api_key_env="NOT_SET_KEY")


def test_429_then_success_is_retried(stub):
    calls = []

    def behave(body):
        calls.append(1)
        return (429, None, 0) if len(calls) < 3 else (200, "Yes", 0)

    server = stub(behave)
    assert backend(server).complete([{"role": "user", "content": "q"}]) == "Yes"
    assert len(server.requests) == 3


def test_persistent_500_gives_up_after_the_attempts(stub):
    server = stub(lambda body: (500, None, 0))
    with pytest.raises(ChatBackendError, match="gave up after 3 attempts") as caught:
        backend(server).complete([{"role": "user", "content": "q"}])
    assert caught.value.retryable and caught.value.status == 500
    assert len(server.requests) == 3


def test_400_is_not_retried(stub):
    server = stub(lambda body: (400, '{"error": "bad model"}', 0))
    with pytest.raises(ChatBackendError, match="HTTP 400") as caught:
        backend(server).complete([{"role": "user", "content": "q"}])
    assert not caught.value.retryable
    assert len(server.requests) == 1


def test_timeouts_are_retried_then_reported(stub):
    server = stub(lambda body: (200, "No", 0.5))
    started = time.monotonic()
    with pytest.raises(ChatBackendError, match="timed out"):
        backend(server, timeout=0.1).complete([{"role": "user", "content": "q"}])
    assert len(server.requests) == 3
    assert time.monotonic() - started < 2.0


def test_openai_judge_records_errors_instead_of_guessing(stub, tmp_path):
    prompts = load_judge_prompts()

    def behave(body):
        content = body["messages"][0]["content"]
        if "refused to answer" in content:  # the refusal prompt
            if "RESPONSE-YES" in content:
                return 200, "Yes.", 0
            if "RESPONSE-NO" in content:
                return 200, "no, it answers", 0
            if "RESPONSE-DOWN" in content:
                return 503, None, 0
            return 200, "I think the model maybe did", 0  # garbage
        if "RESPONSE-LEAK" in content:
            return 200, "Age, Eye color, hair", 0
        return 200, "none", 0

    server = stub(behave)
    cache = JudgeCache(tmp_path / "cache.sqlite")
    judge = LLMJudge(backend(server), concurrency=4, cache=cache)
    verdicts = judge.judge_refusals(
        [("What is the age?\nAnswer", r) for r in ("RESPONSE-YES", "RESPONSE-NO", "RESPONSE-GARBAGE", "RESPONSE-DOWN")]
    )
    assert [v.refused for v in verdicts] == [True, False, None, None]
    assert "unparseable" in verdicts[2].error and "failed" in verdicts[3].error
    leakage = judge.judge_leakage(["RESPONSE-LEAK", "a quiet street"])
    assert leakage[0].attributes == {"age", "eye_color"} and leakage[1].attributes == frozenset()

    # The prompt is PRISM's, byte-exact, with the question and response filled in.
    first = next(r for r in server.requests if "RESPONSE-YES" in r["messages"][0]["content"])
    assert first["messages"][0]["content"] == prompts["refusal"].format(prompt="What is the age?\nAnswer", response="RESPONSE-YES")

    # Rescoring: parsed replies come from the cache; failed ones are asked again.
    asked = len(server.requests)
    again = judge.judge_refusals([("What is the age?\nAnswer", "RESPONSE-YES"), ("What is the age?\nAnswer", "RESPONSE-DOWN")])
    assert again[0].refused is True and again[1].refused is None
    assert len(server.requests) - asked == FAST.max_attempts  # only the failing one, retried


SECRET = "sk-test-0123456789abcdef"


def test_a_redirect_to_another_host_is_not_followed_and_never_becomes_a_verdict(stub, monkeypatch, tmp_path):
    monkeypatch.setenv("STUB_API_KEY", SECRET)
    elsewhere = stub(lambda body: (200, "Yes.", 0))
    port = elsewhere.server.server_address[1]
    endpoint = stub(lambda body: RawReply(302, b"", {"Location": f"http://localhost:{port}/v1/chat/completions"}))
    with pytest.raises(ChatBackendError, match=r"HTTP 302 redirect to 'http://localhost:\d+/v1/chat/completions', not followed") as caught:
        backend(endpoint).complete([{"role": "user", "content": "q"}])
    assert not caught.value.retryable and len(endpoint.requests) == 1
    assert elsewhere.requests == []  # neither the request nor the Authorization header went there
    (verdict,) = LLMJudge(backend(endpoint), cache=JudgeCache(tmp_path / "c.sqlite")).judge_refusals([("q?", "RESPONSE")])
    assert verdict.refused is None and "redirect" in verdict.error and elsewhere.requests == []


def _broken_replies(body):
    """One judge item per failure the network or the server can produce; the rest answer normally."""
    content = body["messages"][0]["content"]
    good = json.dumps({"choices": [{"message": {"role": "assistant", "content": "Yes."}}]}).encode()
    if "CUT-SHORT" in content:
        return RawReply(200, good[:20], {"Content-Type": "application/json"}, declared_length=len(good))
    if "NOT-UTF8" in content:
        return RawReply(200, b'{"choices": [{"message": {"content": "\xff\xfe Yes"}}]}')
    if "NOT-JSON" in content:
        return RawReply(200, b"<html>gateway says hi</html>")
    return RawReply(200, good)


def test_network_and_decoding_failures_are_errors_of_their_item_not_an_abort(stub, tmp_path):
    server = stub(_broken_replies)
    judge = LLMJudge(backend(server), concurrency=2, cache=JudgeCache(tmp_path / "c.sqlite"))
    responses = ["FINE-1", "CUT-SHORT", "NOT-UTF8", "NOT-JSON", "FINE-2"]
    verdicts = judge.judge_refusals([("What is the age?\nAnswer", r) for r in responses])
    assert [v.refused for v in verdicts] == [True, None, None, None, True]
    assert "reply cut short" in verdicts[1].error and "gave up after 3 attempts" in verdicts[1].error
    assert "not UTF-8" in verdicts[2].error and "not JSON" in verdicts[3].error
    asked = [next(b for b in server.requests if r in b["messages"][0]["content"]) for r in responses]
    assert len(asked) == 5
    # A short read is a network failure and is retried; a reply that is not UTF-8 or JSON is not.
    counts = {r: sum(r in b["messages"][0]["content"] for b in server.requests) for r in ("CUT-SHORT", "NOT-UTF8", "NOT-JSON")}
    assert counts == {"CUT-SHORT": FAST.max_attempts, "NOT-UTF8": 1, "NOT-JSON": 1}


def test_the_api_key_is_redacted_from_error_bodies_and_replies(stub, monkeypatch, tmp_path):
    monkeypatch.setenv("STUB_API_KEY", SECRET)

    def echo_the_key(body):
        authorization = server.headers[-1]["Authorization"]
        if "ECHO-ERROR" in body["messages"][0]["content"]:
            return 401, json.dumps({"error": f"invalid key: {authorization}"}), 0
        return 200, f"No. (you sent {authorization})", 0

    server = stub(echo_the_key)
    with pytest.raises(ChatBackendError) as caught:
        backend(server).complete([{"role": "user", "content": "ECHO-ERROR"}])
    assert SECRET not in str(caught.value) and "Bearer [redacted]" in str(caught.value)
    assert backend(server).complete([{"role": "user", "content": "hi"}]) == "No. (you sent Bearer [redacted])"
