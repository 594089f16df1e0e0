"""Word forms: spacy-lookups-data's lemma table, the spellings a term matches, lemmas set on a Doc.

Everything in the engine matches lower-case word forms: a term is also added in every spelling
whose lemma equals its own, so no token of a document needs a lemma looked up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from phantomcode.errors import UsageError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.strings import StringStore
    from spacy.tokens import Doc
    from thinc.types import Ints2d


@lru_cache(maxsize=1)
def _lemma_table() -> dict[str, str]:
    """spacy-lookups-data's English lemma table (word form -> lemma), read from its packaged JSON.

    The same table spaCy's lookup lemmatizer uses; read directly it loads in a few hundredths of a
    second and needs no pipeline.
    """
    import gzip
    import json

    import spacy_lookups_data  # type: ignore[import-untyped]  # the package ships no type information

    path = Path(spacy_lookups_data.en["lemma_lookup"])
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            data = candidate.read_bytes()
            return json.loads(gzip.decompress(data) if candidate.suffix == ".gz" else data)
    raise UsageError(
        f"spacy-lookups-data is installed without its English lemma table ({path}); "
        "reinstall it: pip install --force-reinstall spacy-lookups-data"
    )


@lru_cache(maxsize=1)
def _lemma_inverse() -> dict[str, tuple[str, ...]]:
    """Lemma -> the lower-case word forms the table maps to it (upper-case keys are never looked up)."""
    inverse: dict[str, list[str]] = defaultdict(list)
    for form, lemma in _lemma_table().items():
        if form == form.lower():
            inverse[lemma].append(form)
    return {lemma: tuple(forms) for lemma, forms in inverse.items()}


def _lemma_of(norm: str) -> str:
    return _lemma_table().get(norm, norm)


def _forms_of_lemma(lemma: str) -> set[str]:
    """Every normalised word form whose lemma is ``lemma``: the inverse of :func:`_lemma_of`."""
    forms = set(_lemma_inverse().get(lemma, ()))
    if lemma == lemma.lower() and lemma not in _lemma_table():
        forms.add(lemma)  # a word missing from the table is its own lemma
    return forms


def _with_curly_apostrophes(forms: Iterable[str]) -> set[str]:
    """Forms plus their spelling with a typographic apostrophe, as typed by word processors."""
    forms = set(forms)
    return forms | {form.replace("'", "\u2019") for form in forms if "'" in form}


_CONTRACTED = {"wo": "will", "ca": "can", "sha": "shall"}  # won't, can't, shan't


def set_lemmas(doc: Doc) -> None:
    """Set NORM (lower case, straight apostrophes) and LEMMA (looked up by NORM) on every token.

    Only needed by token patterns whose LEMMA or NORM test cannot be rewritten as a LOWER test
    (see :func:`_rewrite_token`); terms and the other patterns match lower-case word forms. A
    :class:`~phantomcode.coding.CodeMatcher` whose ``needs_lemmas`` is true refuses a Doc without
    them, as spaCy's Matcher does; the engine calls this for such matchers.
    """
    if not len(doc):
        return
    strings = doc.vocab.strings
    cache = _norm_lemma_cache(doc.vocab)
    lowers = doc.to_array(["LOWER"])
    values = []
    for lower in lowers.tolist():
        pair = cache.get(lower)
        if pair is None:
            pair = cache[lower] = _norm_and_lemma(strings, strings[lower])
        values.append(pair)
    array = doc.to_array(["NORM", "LEMMA"])
    array[:] = values
    not_id = strings["not"]
    for i in range(len(values) - 1):
        if values[i + 1][1] == not_id and strings[values[i][1]] in _CONTRACTED:
            array[i, 1] = strings.add(_CONTRACTED[strings[values[i][1]]])
    doc.from_array(["NORM", "LEMMA"], cast("Ints2d", array))


@cache
def _norm_lemma_cache(vocab: Any) -> dict[int, tuple[int, int]]:
    """Per-vocabulary cache: LOWER id -> (NORM id, LEMMA id)."""
    return {}


def _norm_and_lemma(strings: StringStore, lower: str) -> tuple[int, int]:
    norm = lower.replace("\u2019", "'")
    return strings.add(norm), strings.add(_lemma_of(norm))


def _spellings(nlp: Language, phrase: str, by_lemma: bool) -> list[set[str]]:
    """For each token of ``phrase``: the lower-case spellings that match it."""
    norms = [token.lower_.replace("\u2019", "'") for token in nlp.make_doc(phrase)]
    if not by_lemma:
        return [_with_curly_apostrophes([norm]) for norm in norms]
    lemmas = [_lemma_of(norm) for norm in norms]
    slots = []
    for i, lemma in enumerate(lemmas):
        forms = _forms_of_lemma(lemma)
        if i + 1 < len(lemmas) and lemmas[i + 1] == "not":  # "ca n't" is "can not"
            forms |= {short for short, full in _CONTRACTED.items() if full == lemma}
        slots.append(_with_curly_apostrophes(forms))
    return slots
