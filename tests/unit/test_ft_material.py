"""Style material from plain strings and requests (the graph adapter is tested in test_kg_material)."""

from __future__ import annotations

import pytest

from stylekg.editing.ft.material import material_from_requests, resolve_material
from stylekg.errors import EditError, GraphError
from stylekg.kg.material import style_material
from stylekg.material import Marker, StyleMaterial, as_markers
from stylekg.requests import EditRequest, RequestKind

from .test_kg_material import pirate_graph


def test_requests_adapter_and_precedence():
    reqs = [
        EditRequest("{} greets you with", "Pirate", " hello", " ahoy", kind=RequestKind.ERASE, meta={"weight": 2.0}),
        EditRequest("{} lives in", "Pirate", " Paris", " Rome"),
    ]
    mat = material_from_requests(reqs)
    assert mat.markers == (Marker("ahoy", 2.0, "hello"),)
    assert mat.style_texts == ("Pirate greets you with ahoy", "Pirate lives in Paris")
    assert mat.neutral_texts == ("Pirate greets you with hello", "Pirate lives in Rome")
    merged = resolve_material(reqs, material=style_material(pirate_graph(), "Pirate"), style="Pirate", markers={"arr": 1.0})
    assert [m.phrase for m in merged.markers] == ["arr"]  # explicit strings replace
    assert "Hello, how are you?" in merged.neutral_texts and "Pirate lives in Rome" in merged.neutral_texts


def test_bad_material_is_rejected():
    with pytest.raises(EditError, match="negative weight"):
        as_markers({"arr": -1.0})
    with pytest.raises(EditError, match="no marker phrases"):
        StyleMaterial("Nobody").require_markers()
    with pytest.raises(GraphError, match="no node named ''"):  # a graph's material needs a style
        style_material(pirate_graph(), "")
    assert StyleMaterial("Nobody").require_prompts()[0] == "Nobody said:"
