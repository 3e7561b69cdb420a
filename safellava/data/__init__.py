"""LLaVA conversation data: records → validation → templates (ids + labels) → images → collator, sampler.

Modules, one concept each:
- `conversation`  turns and roles of a LLaVA record (`from`/`value` or `role`/`content`)
- `records`       reading LLaVA JSON/JSONL (local or Hugging Face) into a memory-mapped Arrow index; mixing
- `validate`      problem kinds, per-record checks, `ValidationReport`
- `templates`     chat templates; `render_conversation` (training) and `render_prompt` (generation)
- `truncation`    cutting a rendered sample to `model_max_length` without splitting an image
- `images`        loading images, pad-to-square, the image processor, the blank image for text-only batches
- `dataset`       `SupervisedDataset`, the torch Dataset the trainer consumes
- `collate`       `DataCollator`: right padding, labels -100, pixel values
- `sampler`       `ModalityLengthGroupedSampler` (modality-aware, length-grouped, distributed, resumable)
- `check`         `check_records`, the library behind `safellava data check`

Nothing here imports `safellava.train` or `safellava.prism`.
"""

from __future__ import annotations

IMAGE_TOKEN = "<image>"
