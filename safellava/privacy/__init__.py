"""Biometric privacy of LLaVA data: the lexicon (the ONE definition of a biometric mention), the rules that
rewrite mentions into neutral text, `safellava audit` and `safellava clean`.

Standard library only at import time, so that auditing 665K records starts instantly on any machine.
"""
