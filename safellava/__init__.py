"""safellava: train LLaVA-style vision-language models that do not read biometric attributes off images."""

__version__ = "0.1.0"
