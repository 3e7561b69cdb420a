"""The word classes the lexicon's rules consult (people, bodies, animals, little words) and small word
helpers. These say nothing about any one attribute: the attributes' own words are in the registry
(`safellava.attributes`).
"""

from __future__ import annotations

import re
from typing import Iterable


def words(text: str) -> frozenset[str]:
    """The set of the whitespace-separated words of `text`."""
    return frozenset(text.split())


# Nouns naming one person. Role nouns ("chef", "player") are here only as *heads* that an age, weight or
# race adjective can describe ("a young player" leaks age); they are never mentions by themselves.
INDIVIDUAL_NOUNS = words(
    """person persons people individual individuals man men woman women boy boys girl girls lady ladies
    gentleman gentlemen guy guys gal gals lad lads child children kid kids baby babies toddler toddlers
    infant infants teen teens teenager teenagers adult adults adolescent adolescents youngster youngsters
    male males female females human humans subject subjects someone figure
    friend friends player players athlete athletes student students worker workers chef chefs cook cooks
    doctor doctors nurse nurses officer officers soldier soldiers passenger passengers customer customers
    tourist tourists traveler travelers traveller travellers pedestrian pedestrians rider riders skier
    skiers surfer surfers skateboarder skateboarders snowboarder snowboarders biker bikers cyclist
    cyclists runner runners batter batters pitcher pitchers catcher catchers umpire umpires referee
    referees fan fans spectator spectators vendor vendors farmer farmers shopper shoppers diner diners
    patron patrons guest guests performer performers musician musicians singer singers dancer dancers
    artist artists model models bride brides groom grooms mother mothers father fathers mom moms dad dads
    parent parents son sons daughter daughters brother brothers sister sisters sibling siblings husband
    husbands wife wives grandmother grandmothers grandfather grandfathers grandma grandpa grandparent
    grandparents resident residents local locals villager villagers citizen citizens professional
    professionals employee employees teacher teachers monk monks nun nuns priest priests businessman
    businessmen businesswoman businesswomen policeman policemen policewoman fisherman fishermen
    gentleman's individual's person's employee waiter waiters waitress waitresses actor actors actress
    actresses driver drivers owner owners user users hiker hikers swimmer swimmers golfer golfers
    skater skaters climber climbers boxer boxers wrestler wrestlers bodybuilder bodybuilders"""
)
# Nouns naming a group: an age word can describe them ("a young crowd"), a weight word cannot
# ("a large family" is about its size, not anyone's weight).
GROUP_NOUNS = words("couple couples family families crowd crowds team teams group generation")
PERSON_NOUNS = INDIVIDUAL_NOUNS | GROUP_NOUNS

# Words a rule accepts as "a person" when it checks who a predicate is about ("he looks young").
SUBJECT_WORDS = PERSON_NOUNS | words("he she they them who whom everyone everybody somebody both")

# Body nouns a weight word can describe: "a slender build", "a heavy frame", "a thin waist".
BODY_NOUNS = words(
    "build builds frame figure physique body bodies waist waistline belly stomach midsection torso "
    "body type shape"
)
# "frame" is also what glasses, pictures and bikes have ("glasses with a thin frame").
FRAMED_OBJECTS = words(
    "glasses eyeglasses spectacles sunglasses picture pictures photo painting window windows door bed "
    "bike bicycle mirror metal wooden wire"
)

# Animals, dolls and the like: an eye colour, a "male", a "baby" or a "muscular" that belongs to one
# is not a person's biometric attribute ("a cat with green eyes", "a baby elephant", "a male lion").
ANIMAL_NOUNS = words(
    """animal animals pet pets cat cats kitten kittens kitty dog dogs puppy puppies pup pups horse horses
    pony ponies foal foals cow cows calf calves bull bulls cattle sheep lamb lambs goat goats pig pigs
    piglet bird birds owl owls parrot parrots eagle eagles duck ducks duckling ducklings chicken chickens
    hen hens rooster lion lions lioness tiger tigers bear bears cub cubs elephant elephants giraffe
    giraffes zebra zebras monkey monkeys ape apes gorilla gorillas chimpanzee deer fox foxes wolf wolves
    rabbit rabbits bunny bunnies mouse mice rat rats squirrel squirrels fish frog frogs snake snakes
    lizard lizards dragon seal seals dolphin dolphins whale whales penguin penguins camel camels
    kangaroo koala panda pandas doll dolls teddy toy toys stuffed plush figurine statue statues
    mannequin mannequins cartoon"""
)

# Words that end an attributive search ("an old car in front of the man": "old" does not reach "man").
BREAK_WORDS = words(
    """the a an this that these those of in on at with by for from to into onto near behind under over
    and or but is are was were be been has have had who which while as it its their his her our
    your my than through across along beside between around above below next inside outside"""
)
# Words that may sit between a copula and a predicate adjective ("looks quite young").
ADVERBS = words(
    """very quite rather relatively fairly somewhat slightly extremely noticeably visibly particularly
    pretty also still too so more most much especially considerably significantly clearly notably
    rather bit little a generally overall possibly probably likely perhaps seemingly apparently
    certainly definitely naturally even"""
)
COPULAS = words(
    "is are was were be been being am appears appear appeared appearing looks look looked looking seems "
    "seem seemed seeming remains remain becomes become isn't aren't wasn't weren't"
)
# After a predicate adjective only these may follow ("he is young and..."); anything else means the
# adjective describes the next noun ("they are old buildings").
PREDICATE_FOLLOWERS = words(
    """and or but for with in at than enough yet as to compared while who which when since because
    looking so though although given despite on by"""
)
# Objects that "Asian", "Caucasian", "men's" and the like can describe, which are not people.
NON_PERSON_AFTER = words(
    """style styled food foods cuisine restaurant restaurants dish dishes culture cultures music art
    artwork decor design designs pattern patterns architecture script characters character language
    languages flag flags market markets print prints room rooms restroom restrooms bathroom bathrooms
    toilet toilets lavatory clothing apparel wear shoes shoe section department store stores shop shops
    magazine magazines fashion fabric fabrics jewelry attire costume costumes dress dresses garment
    garments inspired writing text calligraphy lantern lanterns temple temples buildings building
    street streets city town village country countries continent cooking tea noodles"""
)

# Hyphenated continuations that keep a word's meaning ("young-looking"); any other hyphenated
# continuation makes a different word ("white-haired", "old-fashioned", "heavy-duty", "thin-crust").
KEEPING_COMPOUNDS = words("looking")


def base(word: str) -> str:
    """A word without a possessive ending: "man's" -> "man"."""
    if word.endswith(("'s", "’s")):
        return word[:-2]
    return word



def lower_words(text: str) -> list[str]:
    """The words of `text`, lowercase (letters and apostrophes)."""
    return [m.group().lower() for m in re.finditer(r"[A-Za-z']+", text)]



def trie_regex(terms: Iterable[str]) -> str:
    """A regex alternation shaped as a trie (shared prefixes once), much faster than a flat list; a space
    in a term matches spaces or hyphens ("middle aged", "middle-aged")."""
    trie: dict = {}
    for word in terms:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True

    def emit(node: dict) -> str:
        end = "" in node
        branches = []
        for char in sorted(k for k in node if k):
            piece = r"[\s-]+" if char == " " else re.escape(char)
            branches.append(piece + emit(node[char]))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return emit(trie)
