"""Text for the key statistics: local corpora a package manager installs offline, files, or generated text.

The reference (``rome/layer_stats.py``) summarises keys over Wikipedia: encyclopedic English, full of the
"X is the capital of Y" sentences whose keys an edit must leave alone. Nothing can be downloaded at run
time, so the default mixes two Debian/Ubuntu packages:

* ``wordnet-base``: Princeton WordNet 3.0's 117k glosses (~1.6M words), each written as a sentence
  ("Kampala is the capital and largest city of Uganda."): people, places, science, history, everyday
  words — the encyclopedic register of Wikipedia's first sentences;
* ``fortunes``: ~15k quotations, literature, science, politics, law, songs and jokes (~440k words):
  running prose by hundreds of authors.

Measured on SmolLM2 (MEMIT, 50 tuning facts in one batch, locality on 150 other known facts; the numbers
are in ``docs/editing.md``), WordNet-heavy statistics give a better efficacy / locality trade-off than
``fortunes`` alone. Where a package is missing the other is used.

Where both are missing (``make demo`` installs no system package), real Wikipedia prose from PyPI: the
``gensim`` package ships, as test data, a sample of the English Wikipedia dump (106 articles, "Anarchism"
to "Algorithm"; ~4,400 paragraphs, ~390k words: ~500k SmolLM2 tokens), which ``make venv``
installs. Only where that is missing too does the model write its own text (slow on a CPU, with a warning).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import EditError
from ..paths import sha256_text
from .wikitext import dump_pages, plain_paragraphs

FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNES_SKIP = frozenset({"ascii-art", "translate-me"})  # pictures made of characters; untranslated text
WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_PARTS = ("noun", "verb", "adj", "adv")
_SENSE_MARK = re.compile(r"\((?:a|p|ip)\)$")  # adjective position markers: "galore(ip)"
_LEADING_DOMAIN = re.compile(r"^\([^()]*\)\s*")  # "(Greek mythology) a great war ..." -> "a great war ..."
# The English Wikipedia sample in gensim's test data (its pages 10-30302, shortened; CC BY-SA), located
# without importing gensim. Pinned in the Makefile, so the file is the same everywhere.
WIKIPEDIA_PACKAGE = "gensim"
WIKIPEDIA_SAMPLE = "test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


@dataclass(frozen=True)
class Corpus:
    """Documents for the statistics and the identity that keys the cache (a hash of their content)."""

    name: str
    texts: list[str]
    identity: str


def read_corpus(paths: Sequence[str | Path]) -> tuple[list[str], str]:
    """(texts, content hash) of local ``.txt`` files (paragraphs) or ``.jsonl`` files (``text`` fields)."""
    texts: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise EditError(f"corpus file {path} does not exist", hint="pass text or JSONL files to --corpus")
        if path.suffix == ".jsonl":
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EditError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                text = record if isinstance(record, str) else record.get("text") if isinstance(record, dict) else None
                if not isinstance(text, str):
                    raise EditError(f"{path}:{number}: expected a string or an object with a 'text' field")
                texts.append(text)
        else:
            body = path.read_text("utf-8")
            parts = [p.strip() for p in body.split("\n\n")]
            texts += [p for p in parts if p]
    if not texts:
        raise EditError("the statistics corpus is empty", hint="pass files with some text")
    return texts, sha256_text(*texts)  # the corpus's identity is its content


def fortunes_texts(root: Path = FORTUNES_DIR) -> list[str] | None:
    """The English ``fortunes`` collection, one text per fortune, in file order (None when not installed)."""
    if not root.is_dir():
        return None
    files = sorted(p for p in root.iterdir() if p.is_file() and not p.is_symlink() and not p.suffix
                   and p.name not in FORTUNES_SKIP)
    texts: list[str] = []
    for path in files:
        body = path.read_text("utf-8", errors="replace")
        texts += [t.strip().replace("\t", " ") for t in body.split("\n%\n") if t.strip() and t.strip() != "%"]
    return texts if len(texts) >= 100 else None


def gloss_sentence(part: str, words: list[str], gloss: str) -> str | None:
    """One WordNet synset as running text: its definition as a sentence about its first word, then its
    quoted examples as sentences (None when it has no definition)."""
    pieces = [p.strip() for p in gloss.split(";") if p.strip()]
    definitions = [p for p in pieces if not p.startswith('"')]
    if not definitions or not words:
        return None
    definition = _LEADING_DOMAIN.sub("", definitions[0]).strip()
    if not definition:
        return None
    word = words[0]
    head = word[:1].upper() + word[1:]
    if part == "noun":
        sentence = f"{head} is {definition}."
    elif part == "verb":
        sentence = f"To {word} is to {definition}."
    else:
        sentence = f"{head} means {definition}."
    examples = [p.strip('"').strip() for p in pieces if p.startswith('"')]
    examples = [e[:1].upper() + e[1:] + ("" if e[-1] in ".!?" else ".") for e in examples if e]
    return " ".join([sentence, *examples])


def wordnet_texts(root: Path = WORDNET_DIR) -> list[str] | None:
    """WordNet's glosses as sentences, one text per synset (None when ``wordnet-base`` is not installed).

    ``data.<part>`` lines: ``offset lex_filenum ss_type w_cnt(hex) word lex_id ... | gloss`` (wndb(5WN));
    the licence header lines start with two spaces."""
    files = [root / f"data.{part}" for part in WORDNET_PARTS]
    if not all(f.is_file() for f in files):
        return None
    texts: list[str] = []
    for part, path in zip(WORDNET_PARTS, files):
        for line in path.read_text("utf-8", errors="replace").splitlines():
            if line.startswith("  ") or " | " not in line:
                continue
            head, gloss = line.split(" | ", 1)
            fields = head.split()
            try:
                count = int(fields[3], 16)
            except (IndexError, ValueError):
                continue
            words = [_SENSE_MARK.sub("", w).replace("_", " ") for w in fields[4 : 4 + 2 * count : 2]]
            text = gloss_sentence(part, words, gloss)
            if text:
                texts.append(text)
    return texts if len(texts) >= 100 else None


def _shuffled(name: str, texts: list[str]) -> Corpus:
    texts = list(texts)
    random.Random(0).shuffle(texts)  # fixed seed: the same corpus every time
    return Corpus(name, texts, sha256_text(name, *texts))


def fortunes_corpus(root: Path = FORTUNES_DIR) -> Corpus | None:
    """The English ``fortunes`` collection as shuffled documents (None when the package is not installed)."""
    texts = fortunes_texts(root)
    return None if texts is None else _shuffled("fortunes", texts)


def wordnet_corpus(root: Path = WORDNET_DIR) -> Corpus | None:
    """WordNet's glosses as shuffled sentences (None when ``wordnet-base`` is not installed)."""
    texts = wordnet_texts(root)
    return None if texts is None else _shuffled("wordnet", texts)


def _signature(*roots: Path) -> tuple:
    """(path, size, mtime) of every file under ``roots``: what the parsed corpus depends on."""
    entries = []
    for root in roots:
        if root.is_dir():
            for path in sorted(root.iterdir()):
                if path.is_file():
                    info = path.stat()
                    entries.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(entries)


def local_corpus(fortunes_root: Path = FORTUNES_DIR, wordnet_root: Path = WORDNET_DIR) -> Corpus | None:
    """The default statistics text: WordNet's glosses and ``fortunes`` shuffled together (either alone when
    the other package is missing; None when both are). Parsed once per process while the files are unchanged
    (~1 s: every call of the statistics needs the corpus's identity, even when they are cached)."""
    return _local_corpus(Path(fortunes_root), Path(wordnet_root), _signature(fortunes_root, wordnet_root))


@functools.lru_cache(maxsize=4)
def _local_corpus(fortunes_root: Path, wordnet_root: Path, _files: tuple) -> Corpus | None:
    parts = {name: texts for name, texts in (("wordnet", wordnet_texts(wordnet_root)),
                                             ("fortunes", fortunes_texts(fortunes_root))) if texts}
    if not parts:
        return None
    return _shuffled("+".join(parts), [t for texts in parts.values() for t in texts])


def wikipedia_sample() -> Path | None:
    """The Wikipedia dump sample shipped in the ``gensim`` package (None when it is not installed)."""
    spec = importlib.util.find_spec(WIKIPEDIA_PACKAGE)  # a top-level package is found without importing it
    for root in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(root) / WIKIPEDIA_SAMPLE
        if path.is_file():
            return path
    return None


def wikipedia_texts(path: Path | None = None) -> list[str] | None:
    """The sample's articles as running-text paragraphs, in dump order (None when it is missing)."""
    path = path if path is not None else wikipedia_sample()
    if path is None or not path.is_file():
        return None
    texts = [para for _, markup in dump_pages(path) for para in plain_paragraphs(markup)]
    return texts if len(texts) >= 100 else None


def wikipedia_corpus(path: Path | None = None) -> Corpus | None:
    """The Wikipedia sample's paragraphs, shuffled (None when ``gensim`` is not installed). Parsed once per
    process while the file is unchanged (~10 s on a busy 2-core machine)."""
    path = path if path is not None else wikipedia_sample()
    if path is None or not path.is_file():
        return None
    info = path.stat()
    return _wikipedia_corpus(path, info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _wikipedia_corpus(path: Path, _size: int, _mtime: int) -> Corpus | None:
    texts = wikipedia_texts(path)
    return None if texts is None else _shuffled("wikipedia", texts)


def statistics_corpus() -> Corpus | None:
    """The default statistics text: the Debian packages' mix (:func:`local_corpus`), else the Wikipedia
    sample (:func:`wikipedia_corpus`), else None (the caller then generates text with the model)."""
    return local_corpus() or wikipedia_corpus()
