"""Chat templates: one rendering code for training (ids + labels) and for generation (prompt ids).

A template turns a conversation into a list of *pieces*: prompt text, supervised text, special tokens
(inserted by id) and image slots (inserted as `image_token_count` copies of the image token id). Adjacent
text pieces of the same kind are merged, each piece is tokenized once, and the ids are concatenated; a
piece's labels are its ids when supervised and -100 otherwise. So labels are right by construction: no
offsets are ever computed over re-tokenised text (LLaVA's "tokenization mismatch" trap), and an `<image>`
is never expanded into a string and re-tokenised.

Segment boundaries and SentencePiece. A Llama/Vicuna SentencePiece tokenizer marks a word start with
"▁" and prepends one to every text it encodes. Boundaries are therefore placed where the full text has a
space (" ASSISTANT:" | " The answer"), and a piece that begins with a space drops that one space before
encoding: the tokenizer's own "▁" stands for it, so the piece encodes exactly as it would in the full
text. Pieces that follow a special token or an image start without a space and get the tokenizer's
"▁" (as in LLaVA's own `<image>` splitting); this is the same in training and generation. Byte-level BPE
tokenizers (Qwen2, Llama 3) add nothing and keep every space. `check_rendered` decodes the supervised spans
and compares them with the assistant texts, for any tokenizer.

`render_prompt` renders the same pieces up to the assistant's opening, so a model is prompted exactly as
it was trained: its ids equal the training ids that precede the first supervised token of that turn.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from safellava.records import ASSISTANT, IMAGE_TOKEN, SYSTEM, USER, Turn, parse_turns
from safellava.records.conversation import order_problems

IGNORE_INDEX = -100

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)
QWEN_SYSTEM = "You are a helpful assistant."


class TemplateError(ValueError):
    """A conversation cannot be rendered with a template/tokenizer; the message says what to change."""


# ----------------------------------------------------------------------------------------------- pieces


@dataclass(frozen=True)
class Text:
    text: str
    supervised: bool = False


@dataclass(frozen=True)
class Special:
    """A special token by its string (e.g. `<|im_end|>`), or `BOS` / `EOS` for the tokenizer's own."""

    token: str
    supervised: bool = False


@dataclass(frozen=True)
class ImageSlot:
    pass


BOS = "__bos__"
EOS = "__eos__"
Piece = Text | Special | ImageSlot


@dataclass
class RenderedSample:
    """Token ids and labels (-100 = not supervised) of one conversation; `image_starts` are the positions
    where each image's run of `image_token_count` image tokens begins."""

    input_ids: list[int]
    labels: list[int]
    image_starts: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_supervised(self) -> int:
        return sum(label != IGNORE_INDEX for label in self.labels)


# ----------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class ChatTemplate:
    """Base: a named way to lay out turns. `system` is the default system prompt (None: no system block);
    a conversation's own leading system turn replaces it."""

    name: str
    system: str | None = None

    def pieces(self, turns: Sequence[Turn], tokenizer: Any, *, for_generation: bool) -> list[Piece]:
        raise NotImplementedError

    def end_of_turn(self, tokenizer: Any) -> str:
        """The text that closes a supervised assistant turn (checked by `check_rendered`)."""
        raise NotImplementedError

    def _system_and_body(self, turns: Sequence[Turn]) -> tuple[str | None, list[Turn]]:
        if turns and turns[0].role == SYSTEM:
            return turns[0].text, list(turns[1:])
        return self.system, list(turns)


def _rounds(body: Sequence[Turn]) -> list[tuple[Turn, Turn | None]]:
    """(user, assistant) pairs; the last assistant is None for a generation prompt."""
    return [(body[i], body[i + 1] if i + 1 < len(body) else None) for i in range(0, len(body), 2)]


def _user_content(text: str, *, before: str = "", after: str = "") -> list[Piece]:
    """A user turn with its `<image>` placeholders turned into image slots."""
    pieces: list[Piece] = []
    parts = (before + text + after).split(IMAGE_TOKEN)
    for number, part in enumerate(parts):
        if number:
            pieces.append(ImageSlot())
        if part:
            pieces.append(Text(part))
    return pieces


@dataclass(frozen=True)
class PlainTemplate(ChatTemplate):
    """Stage-1 pretraining: `<s><image>caption\\n`; the user text is dropped, the image stands for it."""

    def pieces(self, turns, tokenizer, *, for_generation):
        _, body = self._system_and_body(turns)
        pieces: list[Piece] = [Special(BOS)] if tokenizer.bos_token_id is not None else []
        for user, assistant in _rounds(body):
            pieces += [ImageSlot()] * user.text.count(IMAGE_TOKEN)
            if assistant is not None:
                pieces.append(Text(assistant.text + "\n", supervised=True))
        return pieces

    def end_of_turn(self, tokenizer):
        return ""  # the newline is part of the supervised text


@dataclass(frozen=True)
class VicunaTemplate(ChatTemplate):
    """`<s>{system} USER: {q} ASSISTANT: {a}</s>USER: ...` (LLaVA-1.5 / Vicuna v1)."""

    def pieces(self, turns, tokenizer, *, for_generation):
        system, body = self._system_and_body(turns)
        pieces: list[Piece] = [Special(BOS)] if tokenizer.bos_token_id is not None else []
        for number, (user, assistant) in enumerate(_rounds(body)):
            separator = " " if number == 0 and system else ""
            if number == 0 and system:
                pieces.append(Text(system))
            pieces += _user_content(user.text, before=separator + "USER: ", after=" ASSISTANT:")
            if assistant is not None:
                pieces += [Text(" " + assistant.text, supervised=True), Special(EOS, supervised=True)]
        return pieces

    def end_of_turn(self, tokenizer):
        return tokenizer.eos_token


@dataclass(frozen=True)
class ChatMLTemplate(ChatTemplate):
    """`<|im_start|>role\\n{text}<|im_end|>\\n` (Qwen / LLaVA-OneVision `qwen_1_5`)."""

    def pieces(self, turns, tokenizer, *, for_generation):
        system, body = self._system_and_body(turns)
        pieces: list[Piece] = []
        if system is not None:
            pieces += [Special("<|im_start|>"), Text("system\n" + system), Special("<|im_end|>"), Text("\n")]
        for user, assistant in _rounds(body):
            pieces += [Special("<|im_start|>"), *_user_content(user.text, before="user\n"), Special("<|im_end|>")]
            pieces += [Text("\n"), Special("<|im_start|>"), Text("assistant\n")]
            if assistant is not None:
                pieces += [Text(assistant.text, supervised=True), Special("<|im_end|>", supervised=True), Text("\n")]
        return pieces

    def end_of_turn(self, tokenizer):
        return "<|im_end|>"


@dataclass(frozen=True)
class Llama3Template(ChatTemplate):
    """`<|begin_of_text|><|start_header_id|>role<|end_header_id|>\\n\\n{text}<|eot_id|>` (Llama 3)."""

    def pieces(self, turns, tokenizer, *, for_generation):
        system, body = self._system_and_body(turns)
        pieces: list[Piece] = [Special("<|begin_of_text|>")]
        if system is not None:
            pieces += [*_header("system"), Text(system), Special("<|eot_id|>")]
        for user, assistant in _rounds(body):
            pieces += [*_header("user"), *_user_content(user.text), Special("<|eot_id|>"), *_header("assistant")]
            if assistant is not None:
                pieces += [Text(assistant.text, supervised=True), Special("<|eot_id|>", supervised=True)]
        return pieces

    def end_of_turn(self, tokenizer):
        return "<|eot_id|>"


def _header(role: str) -> list[Piece]:
    return [Special("<|start_header_id|>"), Text(role), Special("<|end_header_id|>"), Text("\n\n")]


@dataclass(frozen=True)
class TokenizerChatTemplate(ChatTemplate):
    """The tokenizer's own Jinja `chat_template`, cut into pieces by rendering growing prefixes.

    The text before each assistant answer is `apply_chat_template(turns[:k], add_generation_prompt=True)`
    minus what came before; the answer follows verbatim, then the template's closing text, whose leading
    special token (e.g. `<|im_end|>`, `</s>`) is supervised with the answer. Templates whose renderings
    are not prefixes of each other, or that rewrite answers, are refused with an explanation.
    """

    def pieces(self, turns, tokenizer, *, for_generation):
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateError(
                f"template 'tokenizer' needs tokenizer.chat_template, and {type(tokenizer).__name__} has none; "
                f"choose a named template (plain, vicuna_v1, qwen_1_5, llama3)"
            )
        messages = [{"role": turn.role, "content": turn.text} for turn in turns]
        pieces: list[Piece] = []
        done = ""
        for index, turn in enumerate(turns):
            if turn.role != ASSISTANT:
                continue
            prompt = self._render(tokenizer, messages[:index], generation=True)
            pieces += _user_content(self._extend(done, prompt, index))
            through = self._render(tokenizer, messages[: index + 1], generation=False)
            answer_and_tail = self._extend(prompt, through, index)
            body, end, rest = self._split_answer(turn.text, answer_and_tail, tokenizer)
            pieces += [Text(body, supervised=True), Text(end, supervised=True), Text(rest)]
            done = through
        if for_generation:
            prompt = self._render(tokenizer, messages, generation=True)
            pieces += _user_content(self._extend(done, prompt, len(turns)))
        return pieces

    def end_of_turn(self, tokenizer):
        probe = [{"role": USER, "content": "q"}, {"role": ASSISTANT, "content": "a"}]
        through = self._render(tokenizer, probe, generation=False)
        prompt = self._render(tokenizer, probe[:1], generation=True)
        return self._split_answer("a", self._extend(prompt, through, 1), tokenizer)[1]

    @staticmethod
    def _render(tokenizer, messages, *, generation: bool) -> str:
        if not messages:
            return ""
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    @staticmethod
    def _extend(before: str, after: str, index: int) -> str:
        if not after.startswith(before):
            raise TemplateError(
                f"the tokenizer's chat template renders turn {index} in a way that changes earlier text, so "
                f"labels cannot be built by construction; use a named template instead"
            )
        return after[len(before) :]

    @staticmethod
    def _split_answer(answer: str, rendered: str, tokenizer) -> tuple[str, str, str]:
        """(answer as rendered, supervised end-of-turn special token, unsupervised rest)."""
        # Whitespace the template puts before the answer (e.g. "[/INST] answer") belongs to the answer
        # piece, so that a SentencePiece "▁" boundary falls where it does in the full text.
        lead = rendered[: len(rendered) - len(rendered.lstrip())]
        for candidate in (answer, answer.strip()):
            if rendered[len(lead) :].startswith(candidate):
                candidate = lead + candidate
                tail = rendered[len(candidate) :]
                end = next((tok for tok in _special_strings(tokenizer) if tail.startswith(tok)), None)
                if end is None:
                    raise TemplateError(
                        f"the tokenizer's chat template closes an answer with {tail[:20]!r}, which starts with no "
                        f"special token, so the model would not learn to stop; use a named template"
                    )
                return candidate, end, tail[len(end) :]
        raise TemplateError("the tokenizer's chat template rewrites assistant answers; use a named template")


def _special_strings(tokenizer) -> list[str]:
    """Special token strings, longest first (so `<|im_end|>` wins over a shorter prefix)."""
    return sorted(set(tokenizer.all_special_tokens), key=len, reverse=True)


TEMPLATES: dict[str, ChatTemplate] = {
    "plain": PlainTemplate("plain"),
    "vicuna_v1": VicunaTemplate("vicuna_v1", system=VICUNA_SYSTEM),
    "qwen_1_5": ChatMLTemplate("qwen_1_5", system=QWEN_SYSTEM),
    "llama3": Llama3Template("llama3", system=None),
    "tokenizer": TokenizerChatTemplate("tokenizer"),
}


def get_template(name: str | ChatTemplate, *, system: str | None = None) -> ChatTemplate:
    """A template by name; `system` replaces its default system prompt. Unknown names are an error."""
    if isinstance(name, ChatTemplate):
        template = name
    elif name in TEMPLATES:
        template = TEMPLATES[name]
    else:
        raise TemplateError(f"unknown conversation template {name!r}; choose one of {sorted(TEMPLATES)}")
    return replace(template, system=system) if system is not None else template


# ----------------------------------------------------------------------------------------------- rendering


def render_conversation(
    template: str | ChatTemplate,
    turns: Sequence[Turn | dict],
    tokenizer: Any,
    image_token_id: int,
    image_token_count: int,
) -> RenderedSample:
    """Training ids and labels of a whole conversation (must end with an assistant answer)."""
    turns = _checked_turns(turns, for_generation=False)
    return _tokenize(get_template(template).pieces(turns, tokenizer, for_generation=False), tokenizer, image_token_id, image_token_count)


def render_prompt(
    template: str | ChatTemplate,
    turns: Sequence[Turn | dict],
    tokenizer: Any,
    image_token_id: int,
    image_token_count: int,
) -> list[int]:
    """Generation prompt ids: the conversation so far (ending with a user turn) plus the assistant's opening."""
    turns = _checked_turns(turns, for_generation=True)
    pieces = get_template(template).pieces(turns, tokenizer, for_generation=True)
    return _tokenize(pieces, tokenizer, image_token_id, image_token_count).input_ids


def _checked_turns(turns: Sequence[Turn | dict], *, for_generation: bool) -> list[Turn]:
    parsed = parse_turns(list(turns))
    problems = order_problems(parsed, for_generation=for_generation)
    if problems:
        raise TemplateError(f"cannot render this conversation: {problems[0]}")
    return parsed


def _tokenize(pieces: list[Piece], tokenizer: Any, image_token_id: int, image_token_count: int) -> RenderedSample:
    sample = RenderedSample([], [])
    encoder = _encoder(tokenizer)
    for piece in _merge_text(pieces):
        if isinstance(piece, ImageSlot):
            sample.image_starts.append(len(sample.input_ids))
            ids, supervised = [image_token_id] * image_token_count, False
        elif isinstance(piece, Special):
            ids, supervised = [encoder.special_id(piece.token)], piece.supervised
        else:
            ids, supervised = encoder.encode(piece.text), piece.supervised
        sample.input_ids += ids
        sample.labels += ids if supervised else [IGNORE_INDEX] * len(ids)
    return sample


def _merge_text(pieces: list[Piece]) -> list[Piece]:
    """Join neighbouring text pieces of the same kind, so each is tokenized as one natural string."""
    merged: list[Piece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if isinstance(piece, Text) and isinstance(last, Text) and last.supervised == piece.supervised:
            merged[-1] = Text(last.text + piece.text, piece.supervised)
        elif not (isinstance(piece, Text) and not piece.text):
            merged.append(piece)
    return merged


class _Encoder:
    """Per-tokenizer facts, computed once: does it prepend "▁", and the ids of special tokens."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        first = tokenizer.convert_ids_to_tokens(tokenizer.encode("a", add_special_tokens=False))
        self.prepends_space = bool(first) and str(first[0]).startswith("▁")
        self._special: dict[str, int] = {}

    def encode(self, text: str) -> list[int]:
        if self.prepends_space and text.startswith(" "):
            text = text[1:]  # the tokenizer's own "▁" stands for this space (see the module docstring)
        return self.tokenizer.encode(text, add_special_tokens=False) if text else []

    def special_id(self, token: str) -> int:
        if token not in self._special:
            self._special[token] = self._lookup(token)
        return self._special[token]

    def _lookup(self, token: str) -> int:
        tokenizer = self.tokenizer
        if token in (BOS, EOS):
            value = tokenizer.bos_token_id if token == BOS else tokenizer.eos_token_id
            if value is None:
                raise TemplateError(f"the tokenizer has no {'BOS' if token == BOS else 'EOS'} token, which this template needs")
            return value
        value = tokenizer.convert_tokens_to_ids(token)
        if value is None or value == tokenizer.unk_token_id or token not in tokenizer.get_vocab():
            raise TemplateError(
                f"this template needs the special token {token!r}, which the tokenizer lacks; add it with "
                f"tokenizer.add_special_tokens (and resize the model's embeddings) or choose another template"
            )
        return value


_ENCODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _encoder(tokenizer: Any) -> _Encoder:
    try:
        encoder = _ENCODERS.get(tokenizer)
        if encoder is None:
            encoder = _ENCODERS[tokenizer] = _Encoder(tokenizer)
        return encoder
    except TypeError:  # not weak-referenceable
        return _Encoder(tokenizer)


# ----------------------------------------------------------------------------------------------- self-check


def check_rendered(
    sample: RenderedSample,
    turns: Sequence[Turn | dict],
    template: str | ChatTemplate,
    tokenizer: Any,
    image_token_id: int,
    image_token_count: int,
) -> list[str]:
    """Mismatches between a rendered sample and its conversation (empty list = labels are right).

    Independently of how the sample was built: every supervised run must decode to an assistant answer
    followed by the template's end-of-turn text, in order; supervised labels must equal the input ids; the
    image tokens must be exactly `image_token_count` per `<image>` and never supervised.
    """
    parsed = parse_turns(list(turns))
    template = get_template(template)
    problems: list[str] = []
    if len(sample.labels) != len(sample.input_ids):
        return [f"{len(sample.labels)} labels for {len(sample.input_ids)} ids"]
    runs = _supervised_runs(sample.labels)
    answers = [turn.text for turn in parsed if turn.role == ASSISTANT]
    if len(runs) != len(answers):
        problems.append(f"{len(runs)} supervised spans for {len(answers)} assistant turns")
    end = template.end_of_turn(tokenizer)
    for (start, stop), answer in zip(runs, answers):
        if sample.labels[start:stop] != sample.input_ids[start:stop]:
            problems.append(f"labels differ from input ids in span {start}:{stop}")
        decoded = tokenizer.decode(sample.input_ids[start:stop], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        expected = answer + ("\n" if template.name == "plain" else "") + end
        if decoded.lstrip() != expected.lstrip():
            problems.append(f"span {start}:{stop} decodes to {decoded!r}, expected {expected!r}")
    images = sum(turn.text.count(IMAGE_TOKEN) for turn in parsed if turn.role == USER)
    image_positions = [i for i, token in enumerate(sample.input_ids) if token == image_token_id]
    if len(image_positions) != images * image_token_count:
        problems.append(f"{len(image_positions)} image tokens for {images} image(s) × {image_token_count}")
    if any(sample.labels[i] != IGNORE_INDEX for i in image_positions):
        problems.append("image tokens are supervised")
    return problems


def _supervised_runs(labels: Sequence[int]) -> list[tuple[int, int]]:
    runs, start = [], None
    for position, label in enumerate([*labels, IGNORE_INDEX]):
        if label != IGNORE_INDEX and start is None:
            start = position
        elif label == IGNORE_INDEX and start is not None:
            runs.append((start, position))
            start = None
    return runs
