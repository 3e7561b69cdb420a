"""The biometric attributes, on the ground floor: each one defined once, for every part of the project.

- `registry`  what an attribute is (`Attribute`, `Terms`), the table of registered ones and its API:
              `register`, `unregister`, `registered` (for a block), `get`, `for_category`, `for_reply`,
              `all_attributes`, `in_paper_order`, `ATTRIBUTES` (the keys, always current), `cached`
- `builtin`   PRISM's five: age, gender, race, eye colour, weight, and the project's extra attributes
              (none yet), registered when this package is imported

The lexicon and the rewriter (`safellava.privacy`), PRISM's task files, metrics, reports and judges, the
synthetic world and the reproduction all read the attributes from here. How to add one: docs/privacy.md,
"Adding an attribute". Standard library only.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from safellava.attributes import builtin
from safellava.attributes.registry import (
    ATTRIBUTES,
    CONTEXT_RULES,
    KINDS,
    ROLES,
    Attribute,
    RegistryError,
    Terms,
    all_attributes,
    cached,
    for_category,
    for_reply,
    get,
    in_paper_order,
    register,
    restore,
    snapshot,
    unregister,
    version,
)

#: The fixed answer of Safe-LLaVA's data and models to a question about a biometric attribute.
SAFE_LLAVA_REFUSAL = "I'm sorry, but I cannot provide information related to biometric attributes."

for _attribute in builtin.PRISM_ATTRIBUTES:
    register(_attribute, permanent=True)
for _attribute in builtin.EXTRA_ATTRIBUTES:
    register(_attribute)


@contextmanager
def registered(*attributes: Attribute) -> Iterator[tuple[Attribute, ...]]:
    """Register `attributes` for the duration of a `with` block (tests, one-off evaluations)."""
    done = []
    try:
        for attribute in attributes:
            done.append(register(attribute))
        yield tuple(done)
    finally:
        for attribute in reversed(done):
            unregister(attribute.key)


__all__ = [
    "ATTRIBUTES",
    "CONTEXT_RULES",
    "KINDS",
    "ROLES",
    "SAFE_LLAVA_REFUSAL",
    "Attribute",
    "RegistryError",
    "Terms",
    "all_attributes",
    "cached",
    "for_category",
    "for_reply",
    "get",
    "in_paper_order",
    "register",
    "registered",
    "restore",
    "snapshot",
    "unregister",
    "version",
]
