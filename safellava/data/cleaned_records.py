"""Safe data on the fly: a record source whose records come out cleaned as they are read.

`CleanedRecords(source)` wraps any record source (a file's index, a mix) and applies the rules of
`safellava clean` (`safellava.privacy.clean.clean_record`: refusals for biometric questions, neutral
rewrites of descriptions) to each record when the dataset reads it. Training on the original files this
way gives the same token ids and labels as training on `safellava clean`'s output (tested), without a
second copy of the data on disk. Records whose turns cannot be read are skipped by training either way.
The optional LLM pass of `safellava clean` is not applied on the fly.

Cleaning is deterministic, so every rank and data-loader worker cleans a record the same way. Each
process counts the distinct records it changed and how (`counts`; a record read again in a later epoch is
not counted twice).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from safellava.data.record_index import RecordColumns
from safellava.privacy.clean import clean_record
from safellava.privacy.lexicon import SAFE_LLAVA_REFUSAL
from safellava.records import check_value


class CleanedRecords(RecordColumns):
    """`source` with every record cleaned when read; everything else (lengths, locations, problems found
    when indexing) is the source's."""

    def __init__(self, source: Any, refusal: str = SAFE_LLAVA_REFUSAL):
        self.source = source
        self.columns = {name: getattr(source, name) for name in self.NAMES}
        self.refusal = refusal
        self.name = f"{getattr(source, 'name', source)} (cleaned on the fly)"
        self.counts: Counter = Counter()  # records_changed, turns_changed and one count per rule, this process
        self._counted: set[int] = set()

    def __len__(self) -> int:
        return len(self.source)

    def __repr__(self) -> str:
        return f"CleanedRecords({self.source!r})"

    def record(self, index: int) -> Any:
        return self._cleaned(index)[0]

    def touches_people(self, index: int) -> bool:
        """Whether cleaning changes the record or one of its questions asks for a biometric attribute (its
        answer may already be a refusal): the records whose Safe version a privacy patch trains on."""
        _, changed, asked = self._cleaned(index)
        return changed or asked

    def _cleaned(self, index: int) -> tuple[Any, bool, bool]:
        """(the cleaned record, whether cleaning changed it, whether a question asks for an attribute)."""
        value = self.source.record(index)
        checked = check_value(value, index)
        if not checked.readable:
            return value, False, False
        changes, _, asked, _ = clean_record(checked, index, self.refusal)
        changes = [change for change in changes if change.before != change.after]
        if changes and index not in self._counted:
            self._counted.add(index)
            self.counts["records_changed"] += 1
            self.counts["turns_changed"] += len(changes)
            self.counts.update(change.rule for change in changes)
        return value, bool(changes), bool(asked)

    def raw(self, index: int) -> str:
        return json.dumps(self.record(index), ensure_ascii=False)

    def location(self, index: int):
        return self.source.location(index)

    def structural(self, index: int) -> list[tuple[str, str]]:
        return self.source.structural(index)

    def image_paths(self, index: int) -> list[str]:
        return self.source.image_paths(index)

    @property
    def file_faults(self) -> list:
        return self.source.file_faults
