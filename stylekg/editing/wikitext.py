"""MediaWiki markup → plain paragraphs, and the pages of a MediaWiki XML dump (for the statistics corpus).

Enough of the markup for running prose: templates, tables, references, comments, files, categories,
interlanguage links and math are dropped; internal links keep their shown text, external links their
label; bold/italic quotes and HTML tags go. Headings, lists, indented lines and captions are not running
text and are dropped; a paragraph is kept when it has at least ``min_words`` words and ends a sentence.
"""

from __future__ import annotations

import bz2
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_DROPPED_TAGS = re.compile(
    r"<(math|gallery|timeline|score|syntaxhighlight|source|pre|code|chem|ce|hiero|imagemap|table)\b[^>]*>.*?</\1>",
    re.S | re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_NON_TEXT_LINK = re.compile(r"\[\[\s*(?:File|Image|Media|Category|[a-z]{2,3}(?:-[a-z]+)?)\s*:", re.I)
_LINK = re.compile(r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]")
_EXTERNAL_LINK = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]+(?:\s([^\]]*))?\]")
_EMPHASIS = re.compile(r"'{2,}")
_CONVERT = re.compile(r"\{\{\s*convert\s*\|\s*([^|{}]+?)\s*\|\s*([^|{}]+?)\s*(?=[|}])", re.I)  # {{convert|12|km|..}}
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)")
_NOT_PROSE = ("*", "#", ":", ";", "|", "!", "=", "{", "}")  # lists, indents, tables, headings


def _drop_nested(text: str, opening: str, closing: str) -> str:
    """``text`` without every span from ``opening`` to its matching ``closing`` (spans may nest)."""
    out: list[str] = []
    depth, start = 0, 0
    for mark in re.finditer(f"{re.escape(opening)}|{re.escape(closing)}", text):
        if mark.group() == opening:
            if depth == 0:
                out.append(text[start : mark.start()])
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                start = mark.end()
    if depth == 0:
        out.append(text[start:])
    return "".join(out)


def _drop_non_text_links(text: str) -> str:
    """``text`` without [[File:...]], [[Category:...]] and interlanguage links (their captions hold links)."""
    while (found := _NON_TEXT_LINK.search(text)) is not None:
        depth, i = 0, found.start()
        while i < len(text):
            if text.startswith("[[", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("]]", i):
                depth, i = depth - 1, i + 2
                if depth == 0:
                    break
            else:
                i += 1
        text = text[: found.start()] + text[i:]
    return text


def plain_paragraphs(wikitext: str, min_words: int = 20) -> list[str]:
    """The running-text paragraphs of one page's markup."""
    text = _COMMENT.sub("", wikitext)
    text = _REF.sub("", text)
    text = _DROPPED_TAGS.sub("", text)
    text = _CONVERT.sub(lambda m: f"{m.group(1)} {m.group(2)}{{{{", text)  # keep the quantity, drop the rest
    text = _drop_nested(text, "{{", "}}")
    text = _drop_nested(text, "{|", "|}")
    text = _drop_non_text_links(text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _EXTERNAL_LINK.sub(lambda m: m.group(1) or "", text)
    text = _EMPHASIS.sub("", _TAG.sub("", text))
    paragraphs = []
    for block in text.split("\n\n"):
        lines = [line.strip() for line in block.splitlines()]
        para = " ".join(line for line in lines if line and not line.startswith(_NOT_PROSE))
        para = html.unescape(para).replace("\xa0", " ")
        para = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s+", " ", _EMPTY_BRACKETS.sub("", para))).strip()
        if len(para.split()) >= min_words and para[-1:] in ".!?\"'”":
            paragraphs.append(para)
    return paragraphs


def dump_pages(path: Path) -> Iterator[tuple[str, str]]:
    """(title, markup) of every article (namespace 0, not a redirect) of a ``.xml`` or ``.xml.bz2`` dump."""
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rb") as stream:
        for _, elem in ET.iterparse(stream):
            if elem.tag.rsplit("}", 1)[-1] != "page":
                continue
            ns, title = elem.find("{*}ns"), elem.find("{*}title")
            body = elem.find("{*}revision/{*}text")
            if (ns is not None and ns.text == "0" and elem.find("{*}redirect") is None
                    and body is not None and body.text):
                yield (title.text or "") if title is not None else "", body.text
            elem.clear()
