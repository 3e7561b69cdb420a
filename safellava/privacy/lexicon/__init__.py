"""The ONE definition of a biometric mention, shared by the PRISM lexicon judge, `safellava audit` and
`safellava clean`.

A *mention* is a span of text that states or implies one of the registered attributes of a person
(`safellava.attributes`: PRISM's `age`, `gender`, `race`, `eye_color`, `weight`, and any registered
since). The definition follows PRISM's implicit-leakage judge prompt: explicit values ("27 years old",
"80 kg", "Asian", "blue eyes", "male") and implicit descriptors ("young", "elderly", "boy", "man", "she",
"muscular", "thin") both count.

One module per concept:
- `vocabulary`  word classes the rules consult (people, bodies, animals, little words)
- `terms`       the registry's words as one table; `Mention`
- `context`     context rules: when a term is about a person
- `phrases`     phrase rules: numbers ("27 years old", "80 kg") and colours of eyes, skin and hair
- `mentions`    `find_mentions`: every mention in a text
- `refusals`    `leaked_mentions`, `attributes_mentioned` (refusal-aware) and `is_refusal`
- `questions`   `attributes_asked`

Standard library only, so auditing 665K records starts instantly.
"""

from __future__ import annotations

from safellava.attributes import ATTRIBUTES, SAFE_LLAVA_REFUSAL
from safellava.privacy.lexicon.mentions import find_mentions
from safellava.privacy.lexicon.phrases import BODY_PART_NOUNS
from safellava.privacy.lexicon.questions import attributes_asked
from safellava.privacy.lexicon.refusals import attributes_mentioned, is_refusal, leaked_mentions
from safellava.privacy.lexicon.terms import Mention, Term, term_table
from safellava.privacy.lexicon.vocabulary import ADVERBS, ANIMAL_NOUNS, BREAK_WORDS, COPULAS, PERSON_NOUNS

__all__ = [
    "ADVERBS",
    "ANIMAL_NOUNS",
    "ATTRIBUTES",
    "BODY_PART_NOUNS",
    "BREAK_WORDS",
    "COPULAS",
    "PERSON_NOUNS",
    "SAFE_LLAVA_REFUSAL",
    "Mention",
    "Term",
    "attributes_asked",
    "attributes_mentioned",
    "find_mentions",
    "is_refusal",
    "leaked_mentions",
    "term_table",
]
