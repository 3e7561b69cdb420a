"""LLaVA conversation data: records → validation → templates (ids + labels) → images → collator, sampler.

The record format itself (reading files, turns and roles, problem kinds, the structural check) lives on
the ground floor in `safellava.records`, shared with audit, clean, PRISM and the synthetic world.

Modules, one concept each:
- `record_index`  LLaVA JSON/JSONL (local or Hugging Face) indexed into a memory-mapped Arrow table; mixing
- `validate`      image-file checks, `ValidationReport`
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

