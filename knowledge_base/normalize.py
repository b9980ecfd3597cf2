"""The one normalisation and tokenisation path, shared by indexing and querying in every backend.

normalize(): NFKC width folding → 繁→简 (OpenCC t2s) → lowercase → punctuation to spaces →
English terms to Chinese → typo/homophone fixes → synonym expansion (the canonical wording is
appended, the user's wording stays). Segmenter.tokenize(): jieba words (with a domain
dictionary) minus stopwords, plus character bigrams of each run of content words, so a question
still matches when jieba segments it differently from the guide.

The dictionary grows (guide titles and aliases, editors' terms), so it is not global: each
KnowledgeBase owns a Segmenter and passes it to everything that tokenises for it.
default_segmenter() and tokenize() serve callers outside a knowledge base.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jieba
import yaml
from opencc_purepy import OpenCC

from knowledge_base.constants import LEXICON_DIR
from knowledge_base.spelling import Homophones

if TYPE_CHECKING:
    from knowledge_base.schema import Guide

logging.getLogger("jieba").setLevel(logging.WARNING)

DICT_WORD_FREQ = 2000
"""Frequency given to domain words: high enough that jieba keeps them whole."""
_PIECE_MIN_FREQUENCY = 20
"""A piece of one of our words that jieba counts at least this often is a word the slip correction
knows (经营 of 食品经营许可证); rarer pieces are fragments (人代 of 法人代表)."""

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_ONLY = re.compile(f"^[{_CJK}]+$")
_NOT_WORD = re.compile(f"[^0-9a-z{_CJK}]+")
_APOSTROPHE = re.compile(r"(?<=[a-z])['’`](?=[a-z])")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Lexicon:
    """Lexicon data from knowledge_base/lexicon/*.yaml, already normalised like text."""

    typos: dict[str, str]
    synonyms: tuple[tuple[str, tuple[str, ...], re.Pattern[str] | None], ...]
    english: dict[str, str]
    stopwords: frozenset[str]

    def domain_words(self) -> set[str]:
        """Every Chinese word the lexicon knows, for the segmentation dictionary."""
        words: set[str] = set(self.typos.values())
        for canonical, variants, _ in self.synonyms:
            words.update(canonical.split())
            words.update(variants)
        for chinese in self.english.values():
            words.update(chinese.split())
        return {w for w in words if _CJK_ONLY.match(w) and len(w) > 1}


def _read_yaml(name: str) -> dict[str, Any]:
    with (LEXICON_DIR / name).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"lexicon file {name} must hold a mapping")
    return data


@functools.lru_cache(maxsize=1)
def _opencc() -> OpenCC:
    return OpenCC("t2s")


def _fold(text: str) -> str:
    """Width folding, 繁→简, lowercase, punctuation → single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _opencc().convert(text).lower()
    text = _APOSTROPHE.sub("", text)
    return _NOT_WORD.sub(" ", text).strip()


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The lexicon, loaded once."""
    typos = {_fold(k): _fold(v) for k, v in _mapping(_read_yaml("typos.yaml"), "typos").items()}
    english = {_fold(k): _fold(v) for k, v in _mapping(_read_yaml("english.yaml"), "english").items()}
    synonyms = []
    for group in _read_yaml("synonyms.yaml").get("synonyms") or []:
        canonical = _fold(str(group["canonical"]))
        variants = tuple(sorted({_fold(str(v)) for v in group["variants"]}, key=len, reverse=True))
        patterns = [str(p) for p in group.get("patterns") or []]
        pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        synonyms.append((canonical, variants, pattern))
    stop = _read_yaml("stopwords.yaml")
    words = [*(stop.get("chinese") or []), *(stop.get("english") or [])]
    return Lexicon(typos, tuple(synonyms), english, frozenset(_fold(str(w)) for w in words))


def _mapping(data: dict[str, Any], key: str) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f"lexicon key {key} must be a mapping")
    return {str(k): str(v) for k, v in value.items()}


def _alternation(keys: Iterable[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


@functools.lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    lex = lexicon()
    english = re.compile(rf"(?<![0-9a-z])({_alternation(lex.english)})s?(?![0-9a-z])")
    typos = re.compile(_alternation(lex.typos))
    return english, typos


def normalize(text: str) -> str:
    """Canonical search text: simplified, half-width, lowercase, fixed typos, expanded synonyms."""
    lex = lexicon()
    english, typos = _patterns()
    text = _fold(text)
    if not text:
        return ""
    text = english.sub(lambda m: f" {lex.english[m.group(1)]} ", text)
    text = typos.sub(lambda m: lex.typos[m.group(0)], text)
    text = _SPACES.sub(" ", text).strip()
    added: list[str] = []
    for canonical, variants, pattern in lex.synonyms:
        if any(v in text for v in variants) or (pattern is not None and pattern.search(text)):
            added.extend(w for w in canonical.split() if w not in text and w not in added)
    return " ".join([text, *added]) if added else text


def dictionary_words(guides: Iterable[Guide]) -> set[str]:
    """Normalised titles and aliases (Chinese-only phrases) to keep whole when segmenting."""
    words: set[str] = set()
    for guide in guides:
        for phrase in (guide.title, *guide.aliases):
            words.update(p for p in _fold(phrase).split() if _CJK_ONLY.match(p) and len(p) > 1)
    return words


def fold_text(text: str) -> str:
    """Width folding, 繁→简, lowercase, punctuation to spaces: no typo fixes, no synonyms."""
    return _fold(text)


def jieba_dictionary_lines(guides: Iterable[Guide]) -> list[str]:
    """`word freq` lines for a jieba user dictionary: lexicon words, titles and aliases."""
    words = lexicon().domain_words() | dictionary_words(guides)
    return [f"{word} {DICT_WORD_FREQ}" for word in sorted(words)]


class Segmenter:
    """Segmentation and tokenisation for one knowledge base: a private jieba dictionary (the
    lexicon's words, then whatever is added: guide titles and aliases, editors' synonym terms)
    and the tokenisations made with it. Words are only ever added.

    A knowledge base owns one and hands it to its backends, re-ranker, calibration and rules, so
    indexing and querying tokenise alike and two knowledge bases never see each other's words.
    """

    CACHE_MAX = 50_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: jieba.Tokenizer | None = None
        self._words: set[str] = set()
        self._cache_lock = threading.Lock()
        # text -> (normalised text, tokens, content runs)
        self._cache: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
        self._homophones: Homophones | None = None

    def add_words(self, words: Iterable[str]) -> None:
        """Keep these words whole when segmenting from now on (editors' synonym terms)."""
        self._add(w for word in words for w in _fold(word).split())

    def add_guides(self, guides: Iterable[Guide]) -> None:
        """Keep the guides' titles and aliases whole when segmenting from now on."""
        self._add(dictionary_words(guides))

    def respell(self, text: str) -> str:
        """The text with words of ours typed as a wrong character of the same sound put right
        (精营许可证 → 经营许可证; knowledge_base.spelling)."""
        return _respelled(self.homophones(), text)

    def homophones(self) -> Homophones:
        """Our words by sound, built on first use after words were added (the knowledge base builds
        it when it adds guides, so no user's question waits for it)."""
        homophones = self._homophones
        if homophones is None:
            homophones = self._homophones = self._build_homophones()
        return homophones

    def _build_homophones(self) -> Homophones:
        """Our words (the dictionary's added words, the real words inside them) and how people ask
        (generic_words: 电话, 咨询, 材料 …)."""
        base, _ = _base_dictionary()
        with self._lock:
            neighbours = {t for t in neighbour_terms() if _CJK_ONLY.match(t) and len(t) > 1}
            ours = set(self._words) | lexicon().domain_words()

        def with_pieces(words: set[str]) -> set[str]:
            inside = {w[i : i + n] for w in words for n in range(2, len(w)) for i in range(len(w) - n + 1)}
            return words | {w for w in inside if base.get(w, 0) >= _PIECE_MIN_FREQUENCY}

        asked = {w for w in generic_words() if len(w) > 1 and base.get(w, 0) >= _PIECE_MIN_FREQUENCY}
        tokenizer = self._get()
        return Homophones(with_pieces(ours) | asked, base, lambda run: tokenizer.cut(run, HMM=False),
                          others=neighbours - ours)

    def is_word(self, token: str) -> bool:
        """True if the token is a word of the segmentation dictionary (not a mere bigram)."""
        return bool(self._get().FREQ.get(token))

    def tokenize(self, text: str) -> list[str]:
        """Search tokens of a text: content words (and their sub-words) plus character bigrams."""
        return list(self._analysed(text)[0])

    def content_runs(self, text: str) -> list[str]:
        """Runs of non-stopword text (normalised), in order: the input to character n-grams."""
        return list(self._analysed(text)[1])

    def clear(self) -> None:
        """Forget cached tokenisations (benchmarks measure cold tokenisation with this)."""
        with self._cache_lock:
            self._cache.clear()

    def _get(self) -> jieba.Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                # A copy of the shared base dictionary (~15 ms) instead of loading jieba's (~0.5 s).
                base, total = _base_dictionary()
                tokenizer = jieba.Tokenizer()
                tokenizer.FREQ, tokenizer.total = dict(base), total
                tokenizer.initialized = True
                for word in sorted(self._words):
                    tokenizer.add_word(word, DICT_WORD_FREQ)
                self._tokenizer = tokenizer
            return self._tokenizer

    def _add(self, words: Iterable[str]) -> None:
        new = {w for w in words if _CJK_ONLY.match(w) and len(w) > 1} - self._words
        if not new:
            return
        tokenizer = self._get()
        with self._lock:
            for word in sorted(new):
                tokenizer.add_word(word, DICT_WORD_FREQ)
            self._words |= new
            self._homophones = None
        # A new word can only change how a text that contains it (after normalisation) is
        # segmented, so only those tokenisations are forgotten: adding a guide re-tokenises its own
        # text, not every guide's (~1 s of a new guide's publish before).
        with self._cache_lock:
            stale = [t for t, (norm, _, _) in self._cache.items() if any(w in norm for w in new)]
            for text in stale:
                del self._cache[text]

    def _analysed(self, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        hit = self._cache.get(text)
        if hit is not None:
            return hit[1], hit[2]
        normalised = normalize(text)
        tokens, runs = self._analyse(normalised)
        with self._cache_lock:
            if len(self._cache) >= self.CACHE_MAX:
                self._cache.clear()
            self._cache[text] = (normalised, tokens, runs)
        return tokens, runs

    def _analyse(self, normalised: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        stop = lexicon().stopwords
        tokenizer = self._get()
        tokens: list[str] = []
        runs: list[str] = []
        for chunk in normalised.split():
            if not _CJK_RUN.search(chunk):
                if chunk not in stop:
                    tokens.append(chunk)
                    runs.append(chunk)
                continue
            # jieba would drop Latin/digit parts of mixed chunks into its own tokens; keep them whole.
            for piece in re.split(f"([{_CJK}]+)", chunk):
                if not piece:
                    continue
                if not _CJK_ONLY.match(piece):
                    if piece not in stop:
                        tokens.append(piece)
                        runs.append(piece)
                    continue
                current = ""
                for word in tokenizer.cut(piece, HMM=False):
                    if word in stop:
                        if current:
                            runs.append(current)
                        current = ""
                        continue
                    tokens.append(word)
                    tokens.extend(_sub_words(word, tokenizer))
                    current += word
                if current:
                    runs.append(current)
        for run in runs:
            if _CJK_ONLY.match(run):
                tokens.extend(_bigrams(run))
        return tuple(tokens), tuple(runs)


@functools.lru_cache(maxsize=1)
def neighbour_terms() -> frozenset[str]:
    """The words naming services next to ours (neighbours.yaml), folded: what the scope checks look
    for, and what the slip correction must know (增架 reads as 增驾, not as our 换证)."""
    services = _read_yaml("neighbours.yaml").get("services") or []
    return frozenset(t for t in (_fold(str(term)) for s in services for term in s.get("terms") or []) if t)


@functools.lru_cache(maxsize=4096)
def _respelled(homophones: Homophones, text: str) -> str:
    return homophones.correct(text)


@functools.lru_cache(maxsize=1)
def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's dictionary with the lexicon's words, loaded once and never changed (each Segmenter
    copies it): read-only, so sharing it shares no state."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in sorted(lexicon().domain_words()):
        tokenizer.add_word(word, DICT_WORD_FREQ)
    return tokenizer.FREQ, tokenizer.total


@functools.lru_cache(maxsize=1)
def default_segmenter() -> Segmenter:
    """The shipped dictionary alone, for callers outside a knowledge base that need the same
    normalisation (the gateway grouping inbox questions, tokenize()). A knowledge base never uses
    it: it has its own Segmenter (KnowledgeBase.segmenter), so nothing should add words here."""
    return Segmenter()


def is_cjk(token: str) -> bool:
    """True if the token is Chinese characters only."""
    return bool(_CJK_ONLY.match(token))


@functools.lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    """Tokens of how people ask and what they tell around it — the section classifier's questions
    without the service names in braces, and the background phrases (chatter.yaml) — which say
    nothing about which service is meant."""
    texts: list[str] = []
    sections = _read_yaml("section_questions.yaml").get("sections") or {}
    for questions in sections.values():
        texts.extend(re.sub(r"\{[^}]*\}", " ", str(q)) for q in questions or [])
    for phrases in _read_yaml("chatter.yaml").values():
        texts.extend(str(p) for p in phrases or [])
    return frozenset(t for text in texts for t in tokenize(text))


def tokenize(text: str) -> list[str]:
    """Search tokens with the shipped dictionary (default_segmenter()), outside a knowledge base."""
    return default_segmenter().tokenize(text)


def _bigrams(run: str) -> list[str]:
    if len(run) < 2:
        return []
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _sub_words(word: str, tokenizer: jieba.Tokenizer) -> list[str]:
    """Dictionary words of 3-4 characters inside a longer word (2-character ones are bigrams)."""
    if len(word) <= 3:
        return []
    out = []
    for size in (3, 4):
        if len(word) > size:
            for i in range(len(word) - size + 1):
                gram = word[i : i + size]
                if tokenizer.FREQ.get(gram):
                    out.append(gram)
    return out
