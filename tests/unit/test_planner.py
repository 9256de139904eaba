"""The one request planner (kg/planner.py): selection, propagation, unrelated styles, the plan's JSON."""

from __future__ import annotations

import pytest

from stylekg.errors import EditError, StyleKGError
from stylekg.kg.library import load_library
from stylekg.kg.planner import EditPlan, plan
from stylekg.kg.propagation import subclass_styles
from stylekg.kg.schema import EdgeType, NodeType
from stylekg.kg.to_requests import marker_edges, to_edit_requests
from stylekg.requests import EditRequest, Propagation, RequestKind, from_record, to_record


@pytest.fixture(scope="module")
def lib():
    return load_library()


def _styles_with_markers(lib, skip: set[str]) -> list[str]:
    out = []
    for sid in sorted(n.id for n in lib.nodes(NodeType.STYLE)):
        try:
            reqs = to_edit_requests(lib, sid, "erase")
        except StyleKGError:
            continue
        if sid not in skip and marker_edges(reqs):
            out.append(sid)
    return out


def test_the_run_selection_keeps_marker_edges_and_caps_them(lib):
    p = plan(lib, "Yoda", markers_only=None, max_markers=2)  # None: markers only for an erase, as `run` does
    assert p.requests and all(r.edge_id.startswith(EdgeType.EXPRESSED_BY.value) for r in p.requests)
    assert len({r.edge_id for r in p.requests}) == 2
    everything = plan(lib, "Yoda")  # the default (stylekg edit): every edge, the facts too
    assert any(r.edge_id.startswith(EdgeType.FACT.value) for r in everything.requests)
    assert plan(lib, "Yoda", mode="replace", new_target="x", markers_only=None).requests[0].kind is RequestKind.REPLACE


def test_unrelated_styles_come_from_the_graph_outside_the_edited_hierarchy(lib):
    p = plan(lib, "Exaggeration", propagate="explicit", max_markers=1)
    edited = {r.subject_id for r in p.requests}
    unrelated = list(dict.fromkeys(r.subject_id for r in p.unrelated))
    assert p.subclasses == subclass_styles(lib, "AbstractStyle:exaggeration") and "Style:donald-trump" in p.subclasses
    assert len(unrelated) == 2 and not set(unrelated) & (edited | set(p.subclasses))
    assert unrelated == _styles_with_markers(lib, edited | set(p.subclasses))[:2]  # the first two by id
    assert all(len({r.edge_id for r in p.unrelated if r.subject_id == s}) <= 2 for s in unrelated)
    yoda = plan(lib, "Yoda", n_unrelated=3, unrelated_edges=1)
    assert "Style:yoda" not in {r.subject_id for r in yoda.unrelated} and len(yoda.unrelated) == 3
    assert plan(lib, "Yoda", n_unrelated=0).unrelated == []


def test_propagation_modes(lib):
    explicit = plan(lib, "Exaggeration", propagate=Propagation.EXPLICIT)
    assert explicit.probes == {} and {"AbstractStyle:exaggeration", "Style:donald-trump"} <= {
        r.subject_id for r in explicit.requests}
    implicit = plan(lib, "Exaggeration", propagate="implicit")
    assert {r.subject_id for r in implicit.requests} == {"AbstractStyle:exaggeration"}
    assert set(implicit.probes) <= set(implicit.subclasses) and implicit.probes
    assert implicit.measured == implicit.requests + implicit.probe_list
    none = plan(lib, "Exaggeration")  # no propagation: the concrete carriers' own requests
    assert none.propagate is Propagation.NONE and "Style:donald-trump" in {r.subject_id for r in none.requests}


@pytest.mark.parametrize("kwargs, message", [
    ({"node": "Yoda", "propagate": "explicit"}, "abstract style"),
    ({"node": "Exaggeration", "propagate": "explicit", "inherited": True}, "do not go together"),
    ({"node": "Yoda", "mode": "obliterate"}, "unknown edit mode"),
    ({"node": "Yoda", "propagate": "sideways"}, "unknown propagation"),
    ({"node": "Yoda", "max_markers": 0}, "nothing left"),
])
def test_bad_plans_name_what_is_wrong(lib, kwargs, message):
    with pytest.raises(EditError, match=message):
        plan(lib, **kwargs)


def test_the_plan_round_trips_through_json(lib):
    p = plan(lib, "Exaggeration", propagate="implicit", max_markers=2, markers_only=None)
    data = p.to_json()
    assert data["mode"] == "erase" and data["propagate"] == "implicit" and data["graph"] == "library"
    again = EditPlan.from_json(data)
    assert again.to_json() == data
    assert [r.subject_id for r in again.requests] == [r.subject_id for r in p.requests]
    assert again.preserved == p.preserved and again.node == "AbstractStyle:exaggeration"
    with pytest.raises(EditError, match="not an edit plan"):
        EditPlan.from_json({"node": "x"})


def test_subject_id_is_a_field_and_old_records_move_it_there():
    r = EditRequest("{} says", "Yoda", " well", " hmm", subject_id="Style:yoda", meta={"object_id": "m"})
    record = to_record(r)
    assert record["requested_rewrite"]["subject_id"] == "Style:yoda" and "subject_id" not in record["meta"]
    assert from_record(record).subject_id == "Style:yoda"
    legacy = {**record, "requested_rewrite": {k: v for k, v in record["requested_rewrite"].items()
                                              if k != "subject_id"}, "meta": {"subject_id": "Style:yoda"}}
    old = from_record(legacy)
    assert old.subject_id == "Style:yoda" and old.meta == {}
