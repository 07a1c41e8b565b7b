"""Which Postgres text search configuration reads a text best: its language's stemmer, or none.

Keyword search stems words so that "arbeite" meets "arbeitet" and "больнице" meets "больница"; the
English stemmer mangles other languages, and no stemmer splits Chinese or Japanese into words (those
are matched by character pairs in SQL, see migration 0007). This picks a configuration per text from
its script and, for Latin script, from its commonest words: chat messages are short, but nearly every
sentence carries a few of them. Nothing is downloaded and nothing is guessed from a single word: with
no evidence, a Latin-script text is read as English, as memplane always did.

The names are configurations every PostgreSQL ships (and managed PostgreSQL keeps).
"""

from __future__ import annotations

import re

# The commonest short words of each language, and letters that mark it. A word or letter several
# languages share counts for each of them by a share (one of two languages: half a point).
_COMMON = {
    "english": """the and is are was were you your my me i it to of in on that this what where when which who
        do did does have has had not with for at from be been will would can could about just there they
        a an as but or so if how why get go should like our their them him her she he we us""",
    "german": """der die das und ist sind ich du er sie wir ihr nicht mit ein eine einer einen meine mein
        meinen wo wie wer was auf für dem den des im am zum zur von zu bei nach aus auch noch sehr oft hat
        habe bin war heute gestern jetzt mir mich uns""",
    "spanish": """el la los las y es son que en mi mis tu por una un qué dónde cómo quién cuándo con para
        del al está estoy soy muy pero este esta hoy ayer también sobre fue hace hizo nos le lo se""",
    "french": """le la les et est sont je tu il elle nous vous que une un mon ma mes ton dans pour avec du
        des au aux où qui quel quelle quand suis ai a été très mais ce cette c'est j'ai il y sur pas ne""",
    "portuguese": """o a os as e é são que em no na meu minha uma um com para do da dos não onde quem qual
        quando sou estou está muito mas este esta hoje ontem também""",
    "italian": """il lo la gli le e è sono che di mio mia una un con per della nel nella dove chi quale quando
        non sono sto molto ma questo questa oggi ieri anche""",
    "dutch": """de het een en is zijn ik jij niet mijn met voor van waar wie wat dat ook heel maar vandaag
        gisteren op aan bij naar""",
    "swedish": """och är jag du det att en ett min mitt med för inte var vem vad som också mycket men i dag
        på till av""",
}
_MARKS = {
    "german": "äöüß",
    "spanish": "ñ¿¡áíóú",
    "french": "çœàâèêëîïûù",
    "portuguese": "ãõçáíóúâê",
    "italian": "àèìòù",
    "swedish": "åäö",
}
_WORDS = {lang: set(words.split()) for lang, words in _COMMON.items()}
_SHARE = {w: 1 / sum(w in ws for ws in _WORDS.values()) for ws in _WORDS.values() for w in ws}
_MARK_SHARE = {c: 1 / sum(c in m for m in _MARKS.values()) for m in _MARKS.values() for c in m}
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)

# Scripts with one configuration each; Han, kana and Hangul get 'simple' (their words are matched by
# character pairs instead of stems).
_SCRIPTS = (
    (re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"), "simple"),
    (re.compile(r"[\u0400-\u04ff]"), "russian"),
    (re.compile(r"[\u0600-\u06ff]"), "arabic"),
    (re.compile(r"[\u0370-\u03ff]"), "greek"),
)

CONFIGURATIONS = frozenset({*_COMMON, "russian", "arabic", "greek", "simple"})


def detect(text: str) -> str:
    """The text search configuration for ``text``: a stemmer's language, or 'simple'."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "english"
    for pattern, config in _SCRIPTS:
        if len(pattern.findall(text)) * 3 >= len(letters):  # a third of the letters or more
            return config
    words = [w.lower().replace("’", "'") for w in _TOKEN.findall(text)]
    lowered = text.lower()
    scores = {
        lang: sum(_SHARE[w] for w in words if w in _WORDS[lang])
        + sum(_MARK_SHARE[c] for c in lowered if c in _MARKS.get(lang, ""))
        for lang in _WORDS
    }
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] < 1 or sum(v == scores[best] for v in scores.values()) > 1:
        return "english"  # too little evidence, or a tie: read as memplane always read text
    return best


def configuration(text: str, setting: str) -> str:
    """The configuration to read ``text`` with under the MEMPLANE_TEXT_LANGUAGE ``setting``."""
    return detect(text) if setting == "auto" else setting
