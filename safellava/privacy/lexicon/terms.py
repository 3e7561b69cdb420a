"""Terms: the words of the registered attributes as the lexicon reads them, and the `Mention` a term (or a
phrase) makes in a text.

The words themselves are defined once, per attribute, in the registry (`safellava.attributes`); this
module turns them into one lookup table, `term_table()`, rebuilt whenever an attribute is registered.
"""

from __future__ import annotations

from dataclasses import dataclass

from safellava import attributes


@dataclass(frozen=True, slots=True)
class Mention:
    """One biometric mention: `text[start:end]` states or implies `attribute`.

    kind: "explicit" (names a value: "27 years old", "Asian", "blue eyes", "male") or "implicit"
    (a descriptor that implies one: "young", "man", "she", "muscular").
    role: how the words sit in the sentence, used by the rewriter: "pronoun", "noun" (a person noun
    such as "woman"), "modifier" (an adjective before a noun), "predicate" ("looks young"), or
    "phrase" (a self-contained phrase: "blue eyes", "in his thirties", "of Asian descent").
    """

    attribute: str
    term: str
    start: int
    end: int
    kind: str
    role: str = "phrase"


@dataclass(frozen=True, slots=True)
class Term:
    """A term of the table: the attributes it states (in mention order), its kind, the name of its
    context rule, its default role, and the neutral word the rewriter replaces it with (None: deleted)."""

    attributes: tuple[str, ...]
    kind: str
    context: str
    role: str
    neutral: str | None = None


def _build_term_table() -> dict[str, Term]:
    """term (words separated by single spaces) -> Term, from every registered attribute's `Terms`."""
    table: dict[str, Term] = {}
    for attribute in attributes.all_attributes():
        for group in attribute.terms:
            owners = group.attributes or (attribute.key,)
            for term, neutral in group.entries():
                table[term] = Term(owners, group.kind, group.rule, group.role, neutral)
    return table


#: The current term table (`term_table()["woman"]`); the registry guarantees every term is listed once.
term_table = attributes.cached(_build_term_table)
