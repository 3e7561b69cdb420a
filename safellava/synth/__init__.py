"""A deterministic, offline synthetic world for tests, the demo and the paper-reproduction script.

Images of a person (whose look encodes age, gender, race, eye colour and weight) beside coloured shapes;
raw LLaVA-style stage-1/stage-2 data about them; PRISM-format tasks and a benign control set on
held-out images; and a text corpus for training tiny tokenizers. Depends only on Pillow and the
standard library. See docs/synth.md.
"""

from __future__ import annotations

from safellava.attributes import SAFE_LLAVA_REFUSAL
from safellava.synth.corpus import tokenizer_corpus
from safellava.synth.language import BIOMETRIC_TERMS, mentioned_attributes, stated_values
from safellava.synth.prism_tasks import IMPLICIT_PROMPTS
from safellava.synth.world import WorldPaths, generate_world, load_manifest

__all__ = [
    "BIOMETRIC_TERMS",
    "IMPLICIT_PROMPTS",
    "SAFE_LLAVA_REFUSAL",
    "WorldPaths",
    "generate_world",
    "load_manifest",
    "mentioned_attributes",
    "stated_values",
    "tokenizer_corpus",
]
