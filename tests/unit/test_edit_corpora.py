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


MARKUP = """{{Infobox lake|name=Lake {{nowrap|Test}}|area={{convert|5|km2}}}}
[[File:Lake.jpg|thumb|The lake seen from the [[north|northern]] shore.]]
'''Lake Test''' is a lake in [[Examplia]] that is {{convert|12|km|mi}} long, named after [[John Doe|a local farmer]]
who wrote about it.<ref>{{cite book|title=Lakes}}</ref><ref name="x"/> Its water is clear &amp; cold (; ) and
[https://example.org many visitors] come every year to swim, fish and walk along its quiet shores.

== History ==
* A list item that is not running text, even though it has many words in it for the filter here.
{| class="wikitable"
| a table cell || another table cell with words that are not prose at all here
|}
<!-- a comment that must vanish -->
The lake formed at the end of the last ice age, when a glacier left a deep basin that slowly filled with water.

Too short to be a paragraph.

[[Category:Lakes]]
[[de:Testsee]]"""


def test_wiki_markup_becomes_running_text() -> None:
    from stylekg.editing.wikitext import plain_paragraphs

    assert plain_paragraphs(MARKUP) == [
        "Lake Test is a lake in Examplia that is 12 km long, named after a local farmer who wrote about it. "
        "Its water is clear & cold and many visitors come every year to swim, fish and walk along its quiet shores.",
        "The lake formed at the end of the last ice age, when a glacier left a deep basin that slowly filled with "
        "water.",
    ]


def _dump(path: Path, articles: int) -> Path:
    """A bz2 MediaWiki dump with ``articles`` articles (two paragraphs each), a redirect and a talk page."""
    import bz2
    from xml.sax.saxutils import escape

    def page(title: str, ns: int, text: str, redirect: bool = False) -> str:
        mark = '<redirect title="X" />' if redirect else ""
        return (f"<page><title>{escape(title)}</title><ns>{ns}</ns>{mark}"
                f"<revision><text xml:space=\"preserve\">{escape(text)}</text></revision></page>")

    body = "".join(page(f"Lake {i}", 0, MARKUP.replace("Lake Test", f"Lake {i}")) for i in range(articles))
    body += page("Redirect", 0, "#REDIRECT [[Lake 0]] " + "word " * 30 + ".", redirect=True)
    body += page("Talk:Lake 0", 1, "Talk page text that is long enough to pass the filter of twenty words, "
                 "but it is not an article and must not be read at all here.")
    xml = f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">{body}</mediawiki>'
    path.write_bytes(bz2.compress(xml.encode()))
    return path


def test_the_wikipedia_sample_is_read_as_shuffled_paragraphs(tmp_path) -> None:
    from stylekg.editing.wikitext import dump_pages

    dump = _dump(tmp_path / "wiki.xml.bz2", 60)
    assert [title for title, _ in dump_pages(dump)] == [f"Lake {i}" for i in range(60)]  # articles only
    corpus = co.wikipedia_corpus(dump)
    assert corpus is not None and corpus.name == "wikipedia" and len(corpus.texts) == 120
    assert corpus.texts[:2] != co.wikipedia_texts(dump)[:2]  # shuffled (fixed seed)
    assert co.wikipedia_corpus(dump) is corpus  # parsed once while the file is unchanged
    assert co.wikipedia_corpus(_dump(tmp_path / "small.xml.bz2", 10)) is None  # too little text
    assert co.wikipedia_corpus(tmp_path / "missing.bz2") is None


def test_the_wikipedia_sample_is_the_fallback_of_the_debian_packages(tmp_path, monkeypatch) -> None:
    dump = _dump(tmp_path / "wiki.xml.bz2", 60)
    monkeypatch.setattr(co, "wikipedia_sample", lambda: dump)
    monkeypatch.setattr(co, "local_corpus", lambda: None)
    assert co.statistics_corpus().name == "wikipedia"
    monkeypatch.undo()
    monkeypatch.setattr(co, "local_corpus", lambda: "the packages' mix")
    assert co.statistics_corpus() == "the packages' mix"


def test_the_shipped_wikipedia_sample_holds_enough_prose() -> None:
    """gensim's sample (make venv installs it): over 300k words of article paragraphs."""
    if co.wikipedia_sample() is None:
        pytest.skip("gensim (the Wikipedia sample) is not installed: make venv installs it")
    corpus = co.wikipedia_corpus()
    assert corpus is not None and sum(len(t.split()) for t in corpus.texts) > 300_000
    assert not any("{{" in t or "[[" in t or "<ref" in t for t in corpus.texts)
