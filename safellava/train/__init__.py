"""Training: `run(stage, config, callbacks)` wires a LLaVA, its data and transformers' Trainer together."""
