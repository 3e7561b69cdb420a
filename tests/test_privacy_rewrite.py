"""Rule-based rewriting of biometric mentions into neutral text."""

from __future__ import annotations

import pytest

from safellava.privacy.lexicon import attributes_mentioned
from safellava.privacy.rewrite import neutralize


@pytest.mark.parametrize(
    "before, after",
    [
        ("A young woman is holding a red ball.", "A person is holding a red ball."),
        ("An Asian man with blue eyes is reading.", "A person is reading."),
        ("The elderly man feeds the birds.", "The person feeds the birds."),
        ("Two men are carrying a blue couch.", "Two people are carrying a blue couch."),
        ("The women are laughing.", "The people are laughing."),
        ("A man and a woman sit on a bench.", "Two people sit on a bench."),
        ("A little girl holds a kite.", "A person holds a kite."),
        ("A policeman talks to a businesswoman.", "A police officer talks to a businessperson."),
        ("A female tennis player swings the racket.", "A tennis player swings the racket."),
        ("A 30-year-old chef is cooking.", "A chef is cooking."),
        ("A man of Asian descent is riding a bicycle.", "A person is riding a bicycle."),
        ("The woman has short hair and blue eyes.", "The person has short hair."),
        ("The woman has blue eyes and a red hat.", "The person has a red hat."),
        ("The woman looks young and happy.", "The person looks happy."),
        ("The man's dog is brown.", "The person's dog is brown."),
    ],
)
def test_descriptors_become_neutral(before, after):
    result = neutralize(before)
    assert result.text == after
    assert result.residual == [] and attributes_mentioned(result.text) == set()


@pytest.mark.parametrize(
    "before, after",
    [
        ("She is walking the dog.", "They are walking the dog."),
        ("He has a hat.", "They have a hat."),
        ("She walks to the store.", "They walk to the store."),
        ("He carries a box and she watches.", "They carry a box and they watch."),
        ("He was late, but she wasn't.", "They were late, but they weren't."),
        ("She doesn't see the ball.", "They don't see the ball."),
        ("He's wearing a jacket and he's been running.", "They're wearing a jacket and they've been running."),
        ("Does he have a bag?", "Do they have a bag?"),
        ("She always smiles.", "They always smile."),
        ("He holds his phone and looks at her.", "They hold their phone and look at them."),
        ("The bag is his.", "The bag is theirs."),
        ("She dressed herself.", "They dressed themselves."),
        ("He or she walks. His/her bag is red.", "They walk. Their bag is red."),
        ("He helps her carry the box.", "They help them carry the box."),
        ("She has short hair and is wearing glasses.", "They have short hair and are wearing glasses."),
    ],
)
def test_pronouns_with_verb_agreement(before, after):
    assert neutralize(before).text == after


def test_a_sentence_with_only_biometric_content_is_removed():
    result = neutralize("A person is cooking pasta. He appears to be in his thirties.")
    assert result.text == "A person is cooking pasta."
    assert "drop-sentence" in result.rules


def test_consecutive_biometric_sentences_are_all_removed():
    # Removed one by one, the second used to survive, and its pronoun became "They appear to be white."
    result = neutralize("A person waves. She is a young woman. She appears to be white.")
    assert result.text == "A person waves."


def test_a_middling_build_or_weight_is_removed_like_any_other():
    # The synthetic world's raw descriptions say this of a third of its people; it must not survive cleaning.
    text = "A person is waving. She has an average build. He is of average weight. A blue triangle is on the right."
    assert neutralize(text).text == "A person is waving. A blue triangle is on the right."


def test_an_aside_with_only_biometric_content_is_removed():
    assert neutralize("The chef, who appears to be in his 40s, is cooking pasta.").text == "The chef is cooking pasta."
    assert neutralize("The chef is cooking, likely in his 40s.").text == "The chef is cooking."


def test_a_wholly_biometric_answer_becomes_empty():
    assert neutralize("He appears to be in his thirties.").text == ""


def test_a_bare_noun_phrase_caption_is_rewritten_not_dropped():
    assert neutralize("a young woman").text == "a person"


def test_unrelated_text_is_untouched():
    text = "The man in the white shirt walks past an old car in heavy traffic. The bus is blue."
    result = neutralize(text)
    assert result.text == "The person in the white shirt walks past an old car in heavy traffic. The bus is blue."
    assert neutralize("A red bus on a wet street.").rules == []


def test_refusal_sentences_are_kept():
    text = "I'm sorry, but I cannot provide information related to biometric attributes."
    assert neutralize(text).text == text


def test_neutralizing_twice_changes_nothing_more():
    texts = [
        "A young Asian woman with blue eyes is walking her dog. She appears to be in her twenties.",
        "Two boys and a girl play soccer while their grandmother watches.",
        "The muscular man, who looks about 30 years old, lifts a heavy box.",
    ]
    for text in texts:
        once = neutralize(text).text
        assert neutralize(once).text == once


def test_residual_is_reported_with_the_mentions_left():
    # a predicate in a clause with other content cannot be removed by the rules
    result = neutralize("The chef looks young while chopping onions.")
    assert {m.attribute for m in result.residual} == attributes_mentioned(result.text)


def test_text_whose_length_changes_when_lowered():
    # "İ" lowers to two characters: matching falls back to a case-insensitive pattern
    assert neutralize("İstanbul: a young WOMAN smiles.").text == "İstanbul: a PERSON smiles."
