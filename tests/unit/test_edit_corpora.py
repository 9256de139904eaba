"""Statistics corpora: files, the fortunes collection, WordNet's glosses as sentences, and their mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from stylekg.editing import corpora as co
from stylekg.errors import EditError

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by Princeton University\n"


def _wordnet(root, nouns: int = 120) -> None:
    root.mkdir()
    noun = "".join(
        f"{9000000 + i:08d} 15 n 02 Town_{i} 0 capital_of_Region_{i} 0 001 @ 08665504 n 0000 | "
        f'(geography) the capital and largest city of Region {i}; "we flew to Town {i}"\n' for i in range(nouns))
    (root / "data.noun").write_text(HEADER + noun)
    (root / "data.verb").write_text(HEADER + '01831531 38 v 01 walk 0 001 @ 01835496 v 0000 01 + 02 00 | '
                                    'use one\'s feet to advance; "we walked instead of driving"\n')
    (root / "data.adj").write_text(HEADER + "00013662 00 s 01 galore(ip) 0 001 & 00013160 a 0000 | "
                                   'in great numbers; "there were fish galore"\n')
    (root / "data.adv").write_text(HEADER + "00002244 02 r 01 magically 0 000 | in a magical manner\n")


def _fortunes(root: Path, saying: str = "Wise saying {}.") -> Path:
    """A fortunes directory with one file of 120 sayings."""
    root.mkdir(exist_ok=True)
    (root / "wisdom").write_text("".join(saying.format(i) + "\n%\n" for i in range(120)))
    return root


def test_corpus_errors_name_the_line(tmp_path) -> None:
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": 3}\n')
    with pytest.raises(EditError, match=r"c.jsonl:2"):
        co.read_corpus([bad])
    with pytest.raises(EditError, match="does not exist"):
        co.read_corpus([tmp_path / "missing.txt"])


def test_fortunes_corpus_is_read_shuffled_and_identified_by_content(tmp_path) -> None:
    root = tmp_path / "fortunes"
    root.mkdir()
    (root / "science").write_text("".join(f"Quote number {i} about science.\n\t\t-- Someone\n%\n" for i in range(80)))
    (root / "art").write_text("".join(f"Line {i} on art.\n%\n" for i in range(40)))
    (root / "science.dat").write_bytes(b"\x00\x01")  # the index files are skipped
    (root / "ascii-art").write_text("  /\\\n /  \\\n%\n")
    corpus = co.fortunes_corpus(root)
    assert corpus is not None and len(corpus.texts) == 120
    assert not any("/\\" in t for t in corpus.texts) and "%" not in "".join(corpus.texts)
    assert corpus.texts != sorted(corpus.texts)  # shuffled with a fixed seed: the same each time
    assert co.fortunes_corpus(root).texts == corpus.texts
    (root / "art").write_text("".join(f"Line {i} on painting.\n%\n" for i in range(40)))
    assert co.fortunes_corpus(root).identity != corpus.identity
    assert co.fortunes_corpus(tmp_path / "missing") is None


def test_wordnet_glosses_become_sentences(tmp_path) -> None:
    root = tmp_path / "wordnet"
    _wordnet(root)
    texts = co.wordnet_texts(root)
    assert texts is not None and len(texts) == 123  # the licence header is not text
    assert texts[0] == "Town 0 is the capital and largest city of Region 0. We flew to Town 0."
    assert "To walk is to use one's feet to advance. We walked instead of driving." in texts
    assert "Galore means in great numbers. There were fish galore." in texts
    assert "Magically means in a magical manner." in texts
    assert co.wordnet_texts(tmp_path / "missing") is None


def test_local_corpus_mixes_both_packages_and_uses_either_alone(tmp_path) -> None:
    _wordnet(tmp_path / "wordnet")
    fortunes = _fortunes(tmp_path / "fortunes")
    both = co.local_corpus(fortunes, tmp_path / "wordnet")
    assert both is not None and both.name == "wordnet+fortunes" and len(both.texts) == 243
    assert any(t.startswith("Wise saying") for t in both.texts[:40])  # shuffled together, not appended
    assert any(t.startswith("Town") for t in both.texts[:40])
    assert co.local_corpus(fortunes, tmp_path / "wordnet").identity == both.identity
    alone = co.local_corpus(fortunes, tmp_path / "none")
    assert alone is not None and alone.name == "fortunes" and len(alone.texts) == 120
    assert alone.identity != both.identity
    assert co.local_corpus(tmp_path / "none", tmp_path / "none") is None


def test_local_corpus_is_parsed_once_until_its_files_change(tmp_path) -> None:
    _wordnet(tmp_path / "wordnet")
    fortunes = _fortunes(tmp_path / "fortunes")
    first = co.local_corpus(fortunes, tmp_path / "wordnet")
    assert co.local_corpus(fortunes, tmp_path / "wordnet") is first  # memoised
    _fortunes(fortunes, "Another saying {}, longer.")
    changed = co.local_corpus(fortunes, tmp_path / "wordnet")
    assert changed is not first and changed.identity != first.identity
