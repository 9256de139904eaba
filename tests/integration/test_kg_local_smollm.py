"""The ``local`` provider with the real SmolLM2: schema-guided decoding yields a usable graph."""

from __future__ import annotations

import pytest

from stylekg.kg.inheritance import hierarchy
from stylekg.kg.library import load_library
from stylekg.kg.llm import DECOMPOSITION_SCHEMA, check_schema, decompose
from stylekg.kg.llm.local import LocalClient


@pytest.mark.slow
def test_smollm_decomposes_into_a_valid_linked_graph(smollm):
    client = LocalClient("smollm2-135m", lm=smollm, max_retries=1,
                         counts={"traits": 1, "traits[].markers": 1, "aliases": 0, "facts": 1, "parents": 1})
    client.schema_in_prompt = False
    base = load_library()
    graph, result = decompose("Carl Sagan", client, base)
    check_schema({k: v for k, v in result.record.items() if k != "type"}, DECOMPOSITION_SCHEMA)
    assert graph is base and "Style:carl-sagan" in graph
    assert result.provenance.detail.startswith("local:smollm2-135m prompt:")
    assert all("{}" in f["template"] for f in result.record["facts"])
    assert hierarchy(graph).effective_traits("Style:carl-sagan")  # usable by inheritance queries
    assert client.calls <= 2
