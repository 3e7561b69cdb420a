"""Rule-based rewriting of biometric mentions into neutral text (the primitives `safellava clean` uses).

    "A young Asian woman with blue eyes is holding a red ball. She appears to be in her thirties."
 -> "A person is holding a red ball."

Three passes over a text, each on the result of the one before, so every rule sees real words:
1. deletions: a sentence whose only content is biometric is removed ("He appears to be in his
   thirties."); so is such a comma-separated aside (", who looks about 30,"); descriptors are deleted
   ("young", "Asian", "with blue eyes", "of Asian descent", "a slender build and");
2. substitutions: person nouns become neutral ("woman" -> "person", "men" -> "people",
   "mother" -> "parent", "policeman" -> "police officer"), pronouns become they/them/their with the
   verb that follows made plural ("she is" -> "they are", "he walks" -> "they walk");
3. tidying next to each change only: articles ("an person" -> "a person"), capitals, spaces and
   commas, and "a person and a person" -> "two people".

Whatever the rules cannot neutralise is returned as `residual` (refusal-aware lexicon hits left), for
an LLM pass or for the change log. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from safellava import attributes
from safellava.privacy.lexicon import (
    ADVERBS,
    ANIMAL_NOUNS,
    BODY_PART_NOUNS,
    BREAK_WORDS,
    COPULAS,
    PERSON_NOUNS,
    Mention,
    leaked_mentions,
    term_table,
)
from safellava.privacy.text import WORD_RE, sentence_spans, words_after, words_before


@dataclass
class Rewrite:
    """The result of `neutralize`: the new text, the rules that changed it (in order, one entry per
    change) and the leaks the rules could not remove."""

    text: str
    rules: list[str] = field(default_factory=list)
    residual: list[Mention] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True, slots=True)
class _Edit:
    start: int
    end: int
    replacement: str
    rule: str


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------

def _pairs(text: str) -> dict[str, str]:
    """ "a=b c=d" -> {"a": "b", "c": "d"}; "_" stands for a space in values."""
    out = {}
    for item in text.split():
        key, value = item.split("=")
        out[key] = value.replace("_", " ")
    return out


def _neutral_nouns() -> dict[str, str]:
    """Person noun -> neutral noun ("woman" -> "person", "policeman" -> "police officer"): the
    replacements the registry gives its terms."""
    return {term: entry.neutral for term, entry in term_table().items() if entry.neutral}


#: The current person-noun replacements (`neutral_nouns()["mother"] == "parent"`).
neutral_nouns = attributes.cached(_neutral_nouns)

# Child nouns lose the size words that only make sense for a child ("a little girl" -> "a person").
_CHILD_NOUNS = frozenset("boy boys girl girls child children kid kids baby babies toddler toddlers infant infants".split())
_CHILD_SIZE = frozenset("little small tiny baby".split())

_PRONOUNS = {"he": "they", "she": "they", "him": "them", "himself": "themselves", "herself": "themselves",
             "hers": "theirs"}
# Third-person singular verb forms -> plural, for "she is" -> "they are".
_IRREGULAR_VERBS = _pairs(
    "is=are was=were has=have does=do goes=go isn't=aren't wasn't=weren't hasn't=haven't doesn't=don't "
    "isn’t=aren’t wasn’t=weren’t hasn’t=haven’t doesn’t=don’t"
)
# Words ending in -s that are not verbs (an adverb or a pronoun can sit after a subject).
_NOT_VERBS = frozenset(
    """always perhaps sometimes thus as its this his hers yes towards afterwards besides nevertheless less
    across news plus various previous famous us is was has does""".split()
)
# After "her", these words mean "her" is an object ("next to her and", "hands her a"), not "their".
_OBJECT_FOLLOWERS = BREAK_WORDS | frozenset(
    "up down out away back off around over about along again too also while when as if so".split()
)
# Verbs after which "her" is an object followed by a bare verb ("helps her carry", "lets her play").
_BARE_INFINITIVE_VERBS = frozenset("help helps helped helping let lets letting make makes made making".split())
# A sentence or aside with no other words than these (and mentions) says nothing but biometrics.
_FILLER = (
    BREAK_WORDS | COPULAS | ADVERBS | PERSON_NOUNS
    | frozenset(
        """he she they them their his her him it its i we you someone somebody one ones both all each
        can could may might must should would will do does did not no also likely probably possibly
        perhaps approximately about around roughly estimated appear appears appearing seem seems looks
        look looking age aged ages years year old yrs descent origin heritage ancestry ethnicity ethnic
        background build physique frame figure body type appearance color colour colors
        colours shade hue tint tone between range adult
        kg pounds lbs weighs weigh weighing image picture photo photograph scene here there have has had
        having given based overall seemingly apparently individual's person's own which that who whom
        whose what visible slightly rather fairly small little tiny""".split()
    )
    | frozenset(BODY_PART_NOUNS)  # eye, eyes, iris, skin, complexion, hair
)
# First words of an aside that may be removed as a whole (", who appears to be in his 30s,").
_ASIDE_OPENERS = frozenset(
    """who whom likely probably possibly perhaps apparently appearing seemingly aged approximately around
    about roughly estimated in with and which having""".split()
)
# Words before a phrase that go with it ("who appears to be in his thirties", "weighing 80 kg").
_LEAD_INS = frozenset(
    """who that is are was were appears appear seems seem looks look to be likely probably possibly
    perhaps approximately about around roughly aged weighing weighs apparently seemingly""".split()
)
_CONNECTORS = frozenset("with having and or".split())
_DETERMINERS = frozenset("a an the his her their its some".split())


# --------------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------------

def neutralize(text: str, mentions: list[Mention] | None = None) -> Rewrite:
    """Rewrite every biometric mention the rules can handle; see the module docstring.
    `mentions`: `leaked_mentions(text)` if the caller has it already."""
    result = Rewrite(text)
    if mentions is None:
        mentions = leaked_mentions(text)
    if not mentions:
        return result
    # Deletions until nothing more can be deleted (one deletion can expose another: "has a beard and
    # mustache"), then substitutions; again until nothing changes, because a substitution can make a
    # new context ("white youth" -> "white person"). A fixed point is what makes cleaning idempotent.
    for _ in range(_ROUNDS):
        changed = False
        for rule_pass in (_deletions, _substitutions):
            edits = rule_pass(result.text, mentions) if mentions else []
            if edits:
                _record(result, edits)
                mentions = leaked_mentions(result.text)
                changed = True
        if not changed or not mentions:
            break
    collapsed = _collapse_pairs(result.text)
    if collapsed != result.text:
        result.text = collapsed
        result.rules.append("collapse-pair")
    result.residual = leaked_mentions(result.text)
    return result


_ROUNDS = 4


def _record(result: Rewrite, edits: list[_Edit]) -> None:
    result.text = _apply(result.text, edits)
    result.rules.extend(e.rule for e in edits)


def residual_reason(mention: Mention) -> str:
    """Why the rules left a mention, for the change log and the re-audit listing."""
    reasons = {
        "predicate": "said of a person as the main predicate of a clause that has other content",
        "phrase": "a descriptive phrase in a position the deletion rules do not handle",
        "modifier": "an adjective the deletion rules could not detach",
        "noun": "a person noun with no neutral replacement in this position",
        "pronoun": "a pronoun the substitution rules could not rewrite",
    }
    return reasons.get(mention.role, "no rule for this form")


# --------------------------------------------------------------------------------------------------
# Pass 1: deletions
# --------------------------------------------------------------------------------------------------

def _deletions(text: str, mentions: list[Mention]) -> list[_Edit]:
    spans = sentence_spans(text)
    edits: list[_Edit] = []
    droppable = [s for s in spans if _only_biometric(text, s[0], s[1], mentions)]
    if len(droppable) == len(spans) and not any(m.role == "pronoun" for m in mentions) and _has_person_noun(mentions):
        droppable = []  # a bare noun phrase caption ("a young woman"): rewrite it instead
    for s_start, s_end in _runs(text, droppable):
        edits.append(_Edit(*_sentence_extent(text, s_start, s_end), "", "drop-sentence"))
    covered = [(e.start, e.end) for e in edits]
    for s_start, s_end in spans:
        if (s_start, s_end) in droppable:
            continue
        edits.extend(_aside_edits(text, s_start, s_end, mentions))
    covered = [(e.start, e.end) for e in edits]
    done: set[tuple[int, int]] = set()
    for mention in mentions:
        key = (mention.start, mention.end)
        if key in done or any(lo <= mention.start and mention.end <= hi for lo, hi in covered):
            continue
        done.add(key)
        edit = _deletion_for(text, mention)
        if edit is not None:
            edits.append(edit)
    return _non_overlapping(edits)


def _runs(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Consecutive sentences (only whitespace between them) as one span. Dropped one by one, the last
    would take the space before it, which the one before had taken: the overlap check would keep only
    the first."""
    runs: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if runs and not text[runs[-1][1]:start].strip():
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _has_person_noun(mentions: list[Mention]) -> bool:
    return any(m.role == "noun" for m in mentions)


def _only_biometric(text: str, start: int, end: int, mentions: list[Mention]) -> bool:
    """True when every word of text[start:end] is a mention or a filler word."""
    inside = [m for m in mentions if start <= m.start and m.end <= end]
    if not inside:
        return False
    for match in WORD_RE.finditer(text, start, end):
        if any(m.start <= match.start() and match.end() <= m.end for m in inside):
            continue
        word = match.group().lower()
        if word in _FILLER or word.rstrip("s") in _FILLER or word[:-2] in _FILLER or word.isdigit():
            continue
        return False
    return True


def _sentence_extent(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence plus the whitespace after it (or before it, for the last sentence)."""
    after = end
    while after < len(text) and text[after] in " \t":
        after += 1
    if after < len(text):
        return start, after
    before = start
    while before > 0 and text[before - 1] in " \t\n":
        before -= 1
    return before, end


def _aside_edits(text: str, s_start: int, s_end: int, mentions: list[Mention]) -> list[_Edit]:
    """Comma-separated asides with nothing but biometrics: ", who appears to be in his 30s,"."""
    edits = []
    commas = [m.start() for m in re.finditer(",", text[s_start:s_end])]
    bounds = [s_start] + [s_start + c for c in commas] + [s_end]
    for left, right in zip(bounds[1:-1], bounds[2:]):
        first = words_after(text, left + 1, 1)
        if not first or first[0].lower not in _ASIDE_OPENERS:
            continue
        stop = right
        if stop == s_end:  # the aside ends the sentence: keep the final punctuation
            while stop > left and not text[stop - 1].isalnum():
                stop -= 1
        if _only_biometric(text, left + 1, stop, mentions):
            if stop == right and right < s_end and text[right] == ",":
                stop = right + 1  # an aside in the middle takes both its commas
            edits.append(_Edit(left, stop, "", "drop-aside"))
    return edits


def _deletion_for(text: str, mention: Mention) -> _Edit | None:
    if mention.role == "modifier" or (mention.role == "phrase" and _describes_next_word(text, mention)):
        return _modifier_deletion(text, mention)
    if mention.role == "predicate":
        return _coordinated_deletion(text, mention.start, mention.end, "drop-predicate")
    if mention.role == "phrase":
        return _phrase_deletion(text, mention)
    return None


def _describes_next_word(text: str, mention: Mention) -> bool:
    """ "a 30-year-old chef": a number phrase used as an adjective."""
    if mention.attribute not in ("age", "weight") or mention.kind != "explicit" or mention.term.startswith("in "):
        return False
    after = words_after(text, mention.end, 1)
    return bool(after) and after[0].gap == " " and after[0].lower not in BREAK_WORDS and after[0].lower not in COPULAS


def _modifier_deletion(text: str, mention: Mention) -> _Edit:
    start, end = mention.start, mention.end
    after = words_after(text, end, 1)
    if after and after[0].gap == "-" and after[0].lower == "looking":
        end = after[0].end  # "young-looking"
    coordinated = _coordinated_deletion(text, start, end, "drop-modifier")
    if coordinated is not None:
        return coordinated
    while end < len(text) and text[end] == " ":
        end += 1
    return _Edit(start, end, "", "drop-modifier")


def _coordinated_deletion(text: str, start: int, end: int, rule: str) -> _Edit | None:
    """Delete a word coordinated with others together with its conjunction or comma:
    "tall and thin" -> "tall", "thin and tall" -> "tall", "a tall, thin man" -> "a tall man"."""
    after = words_after(text, end, 1)
    before = words_before(text, start, 1)
    if after and after[0].lower in ("and", "or") and after[0].gap == " ":
        stop = after[0].end
        while stop < len(text) and text[stop] == " ":
            stop += 1
        return _Edit(start, stop, "", rule)
    if before and before[0].lower in ("and", "or") and before[0].gap == " ":
        lead = before[0].start
        while lead > 0 and text[lead - 1] == " ":
            lead -= 1
        if lead > 0 and text[lead - 1] == ",":
            lead -= 1
        return _Edit(lead, end, "", rule)
    if before and before[0].gap.strip() == ",":
        return _Edit(before[0].end, end, "", rule)
    if after and after[0].gap.strip() == ",":
        return _Edit(start, after[0].start, "", rule)
    return None


def _phrase_deletion(text: str, mention: Mention) -> _Edit | None:
    """Delete a descriptive phrase with what ties it to the sentence: "with blue eyes",
    "and a slender build", "of Asian descent", "in his thirties", "weighing 80 kg"."""
    start = _extend_left_over_modifiers(text, mention.start)
    end = mention.end
    before = words_before(text, start, 4)
    after = words_after(text, end, 2)
    nxt = after[0] if after else None
    prev = before[0] if before else None
    ends_clause = nxt is None or bool(nxt.gap.strip(" "))
    if nxt is not None and nxt.lower in ("and", "or") and nxt.gap == " " and prev is not None and prev.lower in _CONNECTORS | frozenset(("has", "have", "had")):
        if prev.lower in ("has", "have", "had") and _verb_follows(text, after):
            # "has a slender build and wears a hat": the verb goes too
            return _Edit(_space_before(text, prev.start), nxt.end, "", "drop-phrase")
        return _Edit(start, _skip_spaces(text, nxt.end), "", "drop-phrase")
    if prev is not None and prev.lower in _CONNECTORS and prev.gap == " " or (prev is not None and prev.lower in _CONNECTORS and ends_clause):
        lead = prev.start
        if prev.lower in ("and", "or"):
            lead = _space_before(text, lead)
            if lead > 0 and text[lead - 1] == ",":
                lead -= 1
        else:
            lead = _space_before(text, lead)
        return _Edit(lead, end, "", "drop-phrase")
    lead_in = _lead_in_start(before)
    if lead_in is not None and (mention.term.startswith("in ") or mention.attribute in ("age", "weight", "race")):
        return _Edit(_space_before(text, lead_in), end, "", "drop-phrase")
    if prev is not None and prev.lower == "of":
        return _Edit(_space_before(text, prev.start), end, "", "drop-phrase")
    if mention.term.startswith("in ") and prev is not None:
        return _Edit(_space_before(text, start), end, "", "drop-phrase")
    return _colour_only_deletion(text, mention)


def _verb_follows(text: str, after: list) -> bool:
    """After "has <phrase> and": is the next word a verb ("and wears a hat", "and is smiling")
    rather than another object ("and freckles", "and a red hat")?"""
    if len(after) < 2:
        return False
    follower = after[1].lower
    if follower in _IRREGULAR_VERBS:
        return True
    if _plural_verb(follower) is None:
        return False
    nxt = words_after(text, after[1].end, 1)
    return bool(nxt) and nxt[0].gap == " " and nxt[0].lower in _DETERMINERS | frozenset(("it", "them", "him"))


def _colour_only_deletion(text: str, mention: Mention) -> _Edit | None:
    """Last resort for a phrase in subject/object position: keep the noun, drop the colour
    ("Her blue eyes sparkle" -> "Their eyes sparkle", "his gray hair" -> "his hair")."""
    words = list(WORD_RE.finditer(text, mention.start, mention.end))
    if len(words) < 2:
        return None
    last = words[-1]
    # Only a colour said of a body part ("blue eyes", "fair skin", "gray hair"), not "facial hair".
    if BODY_PART_NOUNS.get(last.group().lower()) != mention.attribute:
        return None
    return _Edit(mention.start, last.start(), "", "drop-colour")


def _extend_left_over_modifiers(text: str, start: int) -> int:
    """Include the adjectives and the determiner in front of a phrase ("a striking blue eyes")."""
    for word in words_before(text, start, 3):
        if word.gap not in (" ", "-", ", "):
            break
        if word.lower in _DETERMINERS:
            return word.start
        if word.lower in BREAK_WORDS or word.lower in COPULAS or word.lower in _CONNECTORS:
            break
        if word.lower.endswith(("ly", "s")) and word.gap != "-":
            break  # an adverb or a verb ("has", "sparkles") ends the phrase
        start = word.start
    return start


def _lead_in_start(before: list) -> int | None:
    """Start of a lead-in like "who appears to be" / "weighing" directly before a phrase."""
    start = None
    for word in before:
        if word.lower not in _LEAD_INS or word.gap.strip():
            break
        start = word.start
        if word.lower in ("who", "that", "weighing", "aged"):
            return start
    if start is not None and all(w.lower in ("likely", "probably", "possibly", "perhaps", "approximately", "about", "around", "roughly") for w in before[:1]):
        return start
    return None


def _space_before(text: str, pos: int) -> int:
    while pos > 0 and text[pos - 1] == " ":
        pos -= 1
    return pos


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] == " ":
        pos += 1
    return pos


# --------------------------------------------------------------------------------------------------
# Pass 2: substitutions
# --------------------------------------------------------------------------------------------------

def _substitutions(text: str, mentions: list[Mention]) -> list[_Edit]:
    edits: list[_Edit] = []
    done: set[tuple[int, int]] = set()
    for mention in mentions:
        key = (mention.start, mention.end)
        if key in done:
            continue
        done.add(key)
        if mention.role == "pronoun":
            edits.extend(_pronoun_edits(text, mention))
        elif mention.role == "noun":
            edit = _noun_edit(text, mention)
            if edit is not None:
                edits.append(edit)
    return _non_overlapping(edits)


def _match_case(original: str, replacement: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _noun_edit(text: str, mention: Mention) -> _Edit | None:
    original = text[mention.start:mention.end]
    key = re.sub(r"[\s-]+", " ", original.lower())
    if key in ("male", "female", "males", "females"):
        after = words_after(text, mention.end, 1)
        if after and after[0].gap == " " and after[0].lower not in BREAK_WORDS | COPULAS and not after[0].lower.endswith("ing"):
            return _modifier_deletion(text, mention)  # "a female tennis player" -> "a tennis player"
    replacement = neutral_nouns().get(key)
    if replacement is None:
        return None
    start = mention.start
    if key in _CHILD_NOUNS:
        before = words_before(text, start, 1)
        if before and before[0].lower in _CHILD_SIZE and before[0].gap == " ":
            start = before[0].start
            original = text[start:mention.end]
    return _Edit(start, mention.end, _match_case(original, replacement), "neutral-noun")


def _base_noun(word: str) -> str:
    return word[:-2] if word.endswith(("'s", "’s")) else word


def _pronoun_edits(text: str, mention: Mention) -> list[_Edit]:
    original = text[mention.start:mention.end]
    word = original.lower()
    if word in ("his", "her"):
        after = words_after(text, mention.end, 3)
        if after and after[0].lower in ("his", "her") and after[0].gap.strip() in ("/", "or"):
            after = after[1:]  # "his/her bag", "his or her bag": the next word decides
        before = words_before(text, mention.start, 1)
        is_determiner = bool(after) and after[0].gap == " " and after[0].lower not in _OBJECT_FOLLOWERS
        if word == "her" and before and before[0].lower in _BARE_INFINITIVE_VERBS and after:
            # "helps her carry the box" (object) but "helps her granddaughter" (determiner)
            is_determiner = _base_noun(after[0].lower) in PERSON_NOUNS | neutral_nouns().keys() | ANIMAL_NOUNS
        if word == "his":
            replacement = "their" if is_determiner else "theirs"
        else:
            replacement = "their" if is_determiner else "them"
        return [_Edit(mention.start, mention.end, _match_case(original, replacement), "pronoun")]
    edits = [_Edit(mention.start, mention.end, _match_case(original, _PRONOUNS[word]), "pronoun")]
    if word in ("he", "she"):
        edits.extend(_agreement_edits(text, mention))
    return edits


def _agreement_edits(text: str, mention: Mention) -> list[_Edit]:
    """Make the verb after (or the auxiliary before) a subject "they" plural."""
    edits = []
    tail = text[mention.end:mention.end + 3]
    if tail[:2] in ("'s", "’s"):  # he's -> they're / they've
        nxt = words_after(text, mention.end + 2, 1)
        perfect = bool(nxt) and nxt[0].lower in ("been", "got", "had", "gotten")
        edits.append(_Edit(mention.end, mention.end + 2, tail[0] + ("ve" if perfect else "re"), "verb-agreement"))
        return edits
    if tail[:1] in ("'", "’"):
        return edits  # he'd, he'll: unchanged
    before = words_before(text, mention.start, 1)
    if before and before[0].lower in _IRREGULAR_VERBS and before[0].gap == " ":
        # a question or inversion: "does he have" -> "do they have"
        aux = text[before[0].start:before[0].end]
        edits.append(_Edit(before[0].start, before[0].end, _match_case(aux, _IRREGULAR_VERBS[aux.lower()]), "verb-agreement"))
        return edits
    skipped = 0
    for word in words_after(text, mention.end, 4):
        if word.gap.strip():
            break
        if (word.lower.endswith("ly") and word.lower not in ("fly", "apply", "reply", "rely", "supply")) or word.lower in (
            "also", "still", "always", "often", "never", "just", "now", "then", "even", "only", "already", "usually", "sometimes", "not"
        ):
            skipped += 1
            if skipped > 2:
                break
            continue
        if word.lower in term_table():
            break  # a person noun, not a verb ("he schoolboys" is no sentence to fix)
        plural = _plural_verb(word.lower)
        if plural is not None:
            verb = text[word.start:word.end]
            edits.append(_Edit(word.start, word.end, _match_case(verb, plural), "verb-agreement"))
            edits.extend(_coordinated_verb_edits(text, word.end))
        break
    return edits


_AFTER_A_VERB = _DETERMINERS | frozenset("at to on in into with for from up down out away back over around it them".split())


def _coordinated_verb_edits(text: str, pos: int) -> list[_Edit]:
    """A second verb of the same subject: "holds his phone and looks at her" -> "... and look at"."""
    words = words_after(text, pos, 12)
    for index, word in enumerate(words[:-1]):
        if word.lower in ("he", "she", "they", "who", "which", "that", "while", "but"):
            break
        if word.lower != "and" or index + 2 >= len(words):
            continue
        verb, nxt = words[index + 1], words[index + 2]
        plural = _plural_verb(verb.lower)
        # "is", "has", "was", "does" after "and" are verbs whatever follows; other -s words only
        # when an object or a preposition follows ("and looks at", not "cups and plates").
        is_verb = verb.lower in _IRREGULAR_VERBS or (nxt.gap == " " and nxt.lower in _AFTER_A_VERB)
        if plural is not None and verb.gap == " " and is_verb:
            original = text[verb.start:verb.end]
            return [_Edit(verb.start, verb.end, _match_case(original, plural), "verb-agreement")]
    return []


def _plural_verb(word: str) -> str | None:
    """ "walks" -> "walk", "carries" -> "carry", "watches" -> "watch", "is" -> "are"; None if not
    a third-person singular verb form."""
    if word in _IRREGULAR_VERBS:
        return _IRREGULAR_VERBS[word]
    if not word.endswith("s") or len(word) < 3 or word in _NOT_VERBS or not word.isalpha():
        return None
    if word.endswith(("ss", "us", "ous", "is")):
        return None
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes", "oes")):
        return word[:-2]
    return word[:-1]


# --------------------------------------------------------------------------------------------------
# Applying edits and tidying next to them
# --------------------------------------------------------------------------------------------------

def _non_overlapping(edits: list[_Edit]) -> list[_Edit]:
    """Keep the outermost edit where edits overlap (a deleted sentence wins over a word inside it)."""
    kept: list[_Edit] = []
    for edit in sorted(edits, key=lambda e: (e.start, -(e.end - e.start))):
        if kept and edit.start < kept[-1].end:
            if edit.end > kept[-1].end and edit.start == kept[-1].start:
                kept[-1] = edit
            continue
        kept.append(edit)
    return kept


def _apply(text: str, edits: list[_Edit]) -> str:
    pieces: list[str] = []
    cursor = 0
    marks: list[int] = []  # positions in the new text where an edit ended
    length = 0
    for edit in edits:
        keep = text[cursor:edit.start]
        pieces.append(keep)
        length += len(keep)
        pieces.append(edit.replacement)
        length += len(edit.replacement)
        marks.append(length - len(edit.replacement))
        cursor = edit.end
    pieces.append(text[cursor:])
    out = "".join(pieces)
    for mark in sorted(set(marks), reverse=True):
        out = _tidy_at(out, mark)
    return out


_ARTICLE_BEFORE = re.compile(r"\b([Aa]n?)(\s+)$")


def _tidy_at(text: str, pos: int) -> str:
    """Fix spacing, punctuation, the article and the capital right at an edit boundary."""
    left, right = text[:pos], text[pos:]
    # spaces: no double spaces, no space before punctuation, no dangling comma before a full stop
    if left.endswith(" ") and right.startswith((" ", ",", ".", ";", ":", "!", "?")):
        left = left.rstrip(" ")
        if right.startswith(" "):
            right = " " + right.lstrip(" ")
    if left.endswith(",") and right.lstrip(" ").startswith((".", ",", ";", "!", "?")):
        left = left[:-1]
    if right.startswith(",") and (not left or left.rstrip().endswith((".", "!", "?", ","))):
        right = right[1:].lstrip(" ")
        if left and not left.endswith((" ", "\n")):
            right = " " + right
    # the article before the next word: "an person" -> "a person", "a elderly" -> "an elderly"
    match = _ARTICLE_BEFORE.search(left)
    next_word = WORD_RE.match(right.lstrip(" "))
    if match and next_word:
        article = match.group(1)
        wanted = "an" if _starts_with_vowel_sound(next_word.group()) else "a"
        if article.lower() != wanted:
            left = left[:match.start(1)] + (wanted.capitalize() if article[0].isupper() else wanted) + match.group(2)
    # a capital at the start of a sentence
    stripped = left.rstrip(" ")
    if (not stripped or stripped.endswith((".", "!", "?", "\n"))) and right.lstrip(" ")[:1].islower():
        lead = len(right) - len(right.lstrip(" "))
        right = right[:lead] + right[lead].upper() + right[lead + 1:]
    if not stripped and right.startswith(" "):
        left, right = "", right.lstrip(" ")
    return left + right


def _starts_with_vowel_sound(word: str) -> bool:
    low = word.lower()
    if low.startswith(("uni", "use", "usu", "eu", "one", "once", "ur")):
        return False
    if low.startswith(("hour", "honest", "heir", "honor", "honour")):
        return True
    if low[:1].isdigit():
        return low.startswith(("8", "11", "18"))
    return low[:1] in "aeiou"


_COUNTS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _one_more(match: re.Match) -> str:
    """ "two people and a person" -> "three people" (counts up to ten)."""
    number = match.group(1)
    following = _COUNTS[_COUNTS.index(number.lower()) + 1]
    return (following.capitalize() if number[0].isupper() else following) + " people"


_PAIRS = [
    (re.compile(r"\b([Aa]) person and (?:a )?person\b"), lambda m: "Two people" if m.group(1) == "A" else "two people"),
    (re.compile(r"\b(" + "|".join(_COUNTS[:-1]) + r") people and (?:a|one) person\b", re.IGNORECASE), _one_more),
    (re.compile(r"\b([Tt]he) person and (?:the )?person\b"), lambda m: f"{m.group(1)} two people"),
    (re.compile(r"\b([Pp]eople) and people\b"), lambda m: m.group(1)),
    (re.compile(r"\b(person|people) or (?:a |an |the )?\1\b"), lambda m: m.group(1)),
    (re.compile(r"\b([Tt]hey) or they\b"), lambda m: m.group(1)),
    (re.compile(r"\b([Tt]hey)/they\b"), lambda m: m.group(1)),
    (re.compile(r"\b([Tt]heir) or their\b"), lambda m: m.group(1)),
    (re.compile(r"\b([Tt]heir)/their\b"), lambda m: m.group(1)),
    (re.compile(r"\b([Tt]hem) or them\b"), lambda m: m.group(1)),
    (re.compile(r"\b([Tt]hem)/them\b"), lambda m: m.group(1)),
]


_PAIR_HINTS = ("person and", "people and", "person or", "people or", "they or", "their or", "them or", "/")


def _collapse_pairs(text: str) -> str:
    """ "a person and a person" -> "two people", "they or they" -> "they" (made by substitution)."""
    lowered = text.lower()
    if not any(pair in lowered for pair in _PAIR_HINTS):
        return text
    for pattern, repl in _PAIRS:
        text = pattern.sub(repl, text)
    return text
