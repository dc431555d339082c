"""How close two residents' texts are: weighted lemma vectors for the incident suggestion.

A text becomes a bag of its content words' lemmas, found by the category suggester's tokenizer
and dictionaries (:func:`storage.classifier.tokens`, pymorphy3's Ukrainian dictionary, then the
Russian one): ``води``, ``воду`` and ``вода`` are one feature, as are ``відключили`` and
``відключення``'s shared stem. Function words (prepositions, conjunctions, particles,
pronouns, interjections by the dictionary's own tags) are left out. A Russian lemma of the
everyday words of city problems is mapped to its Ukrainian one (``свет`` → ``світло``,
``отопление`` → ``опалення``) so that a Russian message and a Ukrainian incident share words;
a word no dictionary knows (a typo, surzhyk) is folded (``и``/``і``/``ы``, ``е``/``є``/``э``)
and kept as written.

Each feature is weighted by its inverse document frequency in a background corpus of resident
messages shipped in ``storage/data/incident_idf.json`` (built by ``bench/incident_idf.py`` from
``bench/data/resident_messages.csv``, which is not the labelled set the matcher is measured on):
"вода" or "світлофор" weigh more than "будинок" or "день". Vectors are compared by cosine.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from importlib import resources

from storage.classifier import analysers, tokens

Vector = dict[str, float]

# The dictionary's tags of words that say nothing about the subject.
_FUNCTION_TAGS = frozenset({"PREP", "CONJ", "PRCL", "NPRO", "INTJ"})
# Said in nearly every message, whatever it is about, and not always tagged as above.
_STOP = frozenset(
    {
        "вже",
        "його",
        "небудь",
        "шось",
        "вообще",
        "взагалі",
        "случиться",
        "трапитися",
        "уже",
        "ще",
        "бути",
        "быть",
        "будь",
        "ласка",
        "добрий",
        "доброго",
        "добрый",
        "день",
        "привіт",
        "привет",
        "дякую",
        "спасибо",
        "пожалуйста",
        "шановний",
        "скажіть",
        "сказати",
        "сказать",
        "підкажіть",
        "підказати",
        "подсказать",
        "можна",
        "можно",
        "могти",
        "мочь",
        "знову",
        "опять",
        "снова",
        "весь",
        "усі",
        "все",
        "дуже",
        "очень",
        "коли",
        "когда",
        "скільки",
        "сколько",
        "чому",
        "почему",
        "тут",
        "там",
        "це",
        "это",
        "який",
        "какой",
        "година",
        "час",
        "хвилина",
        "ранок",
        "утро",
        "вечір",
        "вечер",
        "сьогодні",
        "сегодня",
        "вчора",
        "вчера",
    }
)
# Russian lemmas of the everyday words of city problems, as their Ukrainian lemmas.
RU_UK: Mapping[str, str] = {
    "свет": "світло",
    "электричество": "електрика",
    "электроэнергия": "електроенергія",
    "отопление": "опалення",
    "батарея": "батарея",
    "горячий": "гарячий",
    "холодный": "холодний",
    "вода": "вода",
    "кран": "кран",
    "нет": "немає",
    "нету": "немає",
    "нема": "немає",
    "отключить": "відключити",
    "отключение": "відключення",
    "выключить": "вимкнути",
    "прорыв": "прорив",
    "прорвать": "прорвати",
    "труба": "труба",
    "течь": "текти",
    "авария": "аварія",
    "дерево": "дерево",
    "упасть": "впасти",
    "ветка": "гілка",
    "дорога": "дорога",
    "светофор": "світлофор",
    "перекрёсток": "перехрестя",
    "перекресток": "перехрестя",
    "мусор": "сміття",
    "вывезти": "вивезти",
    "контейнер": "контейнер",
    "автобус": "автобус",
    "маршрут": "маршрут",
    "маршрутка": "маршрутка",
    "остановка": "зупинка",
    "газ": "газ",
    "запах": "запах",
    "пахнуть": "пахнути",
    "вонять": "смердіти",
    "переход": "перехід",
    "подземный": "підземний",
    "затопить": "затопити",
    "улица": "вулиця",
    "дом": "будинок",
    "подъезд": "під'їзд",
    "квартира": "квартира",
    "район": "район",
    "работать": "працювати",
    "гореть": "горіти",
    "лужа": "калюжа",
    "яма": "яма",
}
# Lemmas residents use for the same thing that goes wrong, as one feature (the first of its
# group): the light is off whether one writes "світло", "електрика" or "знеструмлення".
_SAME_THING: tuple[tuple[str, ...], ...] = (
    ("світло", "електрика", "електроенергія", "електропостачання", "знеструмлення", "свєт"),
    ("опалення", "теплопостачання", "тепло", "відопленя", "опаленя"),
    ("вода", "водопостачання", "водичка"),
    ("прорив", "порив", "прорвати"),
    ("водогін", "водопровід", "магістраль"),
    ("сміття", "тпв", "смітник", "мусорка"),
    ("газ", "газовий"),
    ("перехід", "підземка", "подземка"),
    ("затопити", "затоплений", "затопленний"),
    ("дерево", "гілка", "гілляка"),
)
CONCEPTS: Mapping[str, str] = {word: group[0] for group in _SAME_THING for word in group}
# Words the dictionaries miss or misread, as written by residents (``нема`` is not ``немой``).
_WORDS: Mapping[str, str] = {
    "немає": "немає",
    "нема": "немає",
    "нєма": "немає",
    "немa": "немає",
    "немаэ": "немає",
    "нет": "немає",
    "нету": "немає",
    "відсутня": "немає",
    "відсутнє": "немає",
    "відсутній": "немає",
    "отсутствует": "немає",
}
# HTML a message may carry (pasted or forwarded): tags are not words.
_TAG = re.compile(r"<[^<>]{0,200}>")
_FOLD = str.maketrans({"і": "и", "ї": "и", "ы": "и", "й": "и", "є": "е", "э": "е", "ё": "е"})
# At most this many words of a text are read (a report's point is made early).
WORD_LIMIT = 400
# Characters of a text read at all (a Telegram message is at most 4096).
TEXT_READ = 8000


@functools.lru_cache(maxsize=100_000)
def features(token: str) -> tuple[str, ...]:
    """The features a word counts as: its lemmas (Ukrainian dictionary first, then Russian,
    Russian lemmas of city words as Ukrainian ones), none for a function word, or the word
    folded when no dictionary knows it."""
    if token.isdigit():
        # Route and house numbers say something; "3 години" does not.
        return (token,) if 2 <= len(token) <= 4 else ()
    if len(token) < 2:
        return ()
    if token in _WORDS:
        return (_WORDS[token],)
    uk, ru = analysers()
    for analyser, russian in ((uk, False), (ru, True)):
        if not analyser.word_is_known(token):
            continue
        parses = analyser.parse(token)
        # The likeliest reading decides (the Russian dictionary ranks them: "что" is a
        # conjunction first); readings far less likely than it are not kept.
        if str(parses[0].tag.POS) in _FUNCTION_TAGS:
            return ()
        content = [
            parse
            for parse in parses
            if str(parse.tag.POS) not in _FUNCTION_TAGS and parse.score >= parses[0].score / 2
        ]
        # A form that may be a noun is taken for one (``води`` is water, not "to lead";
        # ``світла`` is light, not "bright"): residents name the thing that is wrong.
        nouns = [parse for parse in content if str(parse.tag.POS) == "NOUN"]
        lemmas: set[str] = set()
        for parse in nouns or content:
            lemma = parse.normal_form.replace("ё", "е") if russian else parse.normal_form
            lemma = RU_UK.get(lemma, lemma)
            lemmas.add(CONCEPTS.get(lemma, lemma))
        if lemmas & _STOP or token in _STOP:
            return ()
        return tuple(sorted(lemmas))
    if token in _STOP:
        return ()
    mapped = RU_UK.get(token) or CONCEPTS.get(token)
    return (CONCEPTS.get(mapped, mapped),) if mapped else (token.translate(_FOLD),)


def counts(text: str) -> Vector:
    """Feature counts of a text; a word with several lemmas counts a share to each."""
    found: Vector = {}
    for token in tokens(_TAG.sub(" ", text[:TEXT_READ]))[:WORD_LIMIT]:
        lemmas = features(token)
        for lemma in lemmas:
            found[lemma] = found.get(lemma, 0.0) + 1.0 / len(lemmas)
    return found


@functools.cache
def background() -> tuple[int, Mapping[str, int]]:
    """The background corpus's size and its documents per feature."""
    raw = resources.files("storage").joinpath("data/incident_idf.json").read_text("utf-8")
    data = json.loads(raw)
    return int(data["documents"]), {str(k): int(v) for k, v in data["df"].items()}


def idf(feature: str) -> float:
    documents, df = background()
    return math.log((documents + 1) / (df.get(feature, 0) + 1)) + 1.0


def weigh(found: Mapping[str, float]) -> Vector:
    """TF-IDF with sublinear term frequency, normalised to length 1 (empty stays empty)."""
    vector = {term: (1.0 + math.log(count)) * idf(term) for term, count in found.items()}
    return normalised(vector)


def normalised(vector: Mapping[str, float]) -> Vector:
    norm = math.sqrt(sum(value * value for value in vector.values()))
    return {term: value / norm for term, value in vector.items()} if norm else {}


def vector(text: str) -> Vector:
    return weigh(counts(text))


def cosine(one: Mapping[str, float], other: Mapping[str, float]) -> float:
    if len(one) > len(other):
        one, other = other, one
    return sum(value * other.get(term, 0.0) for term, value in one.items())


def centroid(vectors: Iterable[tuple[Mapping[str, float], float]]) -> Vector:
    """The normalised weighted sum of (normalised) vectors."""
    total: Vector = {}
    for found, weight in vectors:
        for term, value in found.items():
            total[term] = total.get(term, 0.0) + value * weight
    return normalised(total)
