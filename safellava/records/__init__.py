"""The LLaVA record format, on the ground floor: one definition for every tool that reads LLaVA data.

- `reader`        streaming JSON arrays, JSON Lines and concatenated objects: each record's text, byte range
                  and line; BOM, non-UTF-8 bytes and broken files handled the same way everywhere
- `conversation`  turns and roles (`from`/`value` or `role`/`content`; human/gpt, user/assistant, system),
                  image paths, record ids, the image placeholder
- `problems`      problem kinds, `Problem`, and `check_text`/`check_value`: the structural check

Training (`safellava.data`), `safellava data check`, `audit` and `clean` (`safellava.privacy`), PRISM and
the synthetic world import from here, so a file gives the same records and the same problems in each.
Standard library only: auditing starts instantly and runs anywhere.
"""

from safellava.records.conversation import (
    ASSISTANT,
    IMAGE_TOKEN,
    ROLE_ALIASES,
    SYSTEM,
    USER,
    ConversationError,
    Turn,
    parse_turns,
    record_id,
    record_images,
    turn_keys,
)
from safellava.records.problems import (
    FILE_ID,
    PROBLEM_KINDS,
    CheckedRecord,
    Problem,
    check_text,
    check_value,
    file_problem,
    structural_problems,
)
from safellava.records.reader import RawRecord, ReadFault, detect_layout, parse_record, read_records

__all__ = [
    "ASSISTANT",
    "FILE_ID",
    "IMAGE_TOKEN",
    "PROBLEM_KINDS",
    "ROLE_ALIASES",
    "SYSTEM",
    "USER",
    "CheckedRecord",
    "ConversationError",
    "Problem",
    "RawRecord",
    "ReadFault",
    "Turn",
    "check_text",
    "check_value",
    "detect_layout",
    "file_problem",
    "parse_record",
    "parse_turns",
    "read_records",
    "record_id",
    "record_images",
    "structural_problems",
    "turn_keys",
]
