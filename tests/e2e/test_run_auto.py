"""``stylekg run --auto`` with a recorded LLM served by a local OpenAI-compatible server (tiny model)."""

from __future__ import annotations

import json

from stylekg.kg.llm.library_client import LibraryClient
from stylekg.kg.stores import open_store
from stylekg.pipeline import RunConfig
from stylekg.pipeline.auto import run_auto
from tests.llm_server import recorded_llm_server


def _record(name: str, like: str) -> str:
    """A decomposition answer for a voice the library lacks, shaped like a library style's."""
    record = LibraryClient()._record(like)
    record["name"] = name
    record["aliases"] = [f"{name} Jr."]
    return json.dumps(record)


def test_auto_expands_plans_edits_and_stores_what_it_modified(tmp_path, home, monkeypatch) -> None:
    expand = json.dumps({"styles": [{"name": "Bob Ross", "why": "soft encouragement"},
                                    {"name": "Fred Rogers", "why": "gentle warmth"}]})
    script = [{"content": expand}, {"content": _record("Bob Ross", "Dolly Parton")},
              {"content": _record("Fred Rogers", "Oprah Winfrey")}]
    with recorded_llm_server(script) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        cfg = RunConfig(auto="gentle TV hosts", provider="openai", llm_model="recorded", model="tiny-gpt2",
                        store=str(tmp_path / "g.lbug"), runs_dir=str(tmp_path / "runs"), max_markers=2)
        outcome = run_auto(cfg, n_styles=2)
        assert len(server.requests) == 3  # one expansion, one decomposition per style
        summary = outcome.summary.to_dict()
        assert summary["auto"]["styles"] == ["Bob Ross", "Fred Rogers"]
        with open_store(cfg.store) as store:
            graph = store.load_graph(summary["graph"]["name"])
            ids = {n.name: n.id for n in graph.nodes()}
            assert {"Bob Ross", "Fred Rogers"} <= set(ids)
            # every expanded style is either modified (the edges it held) or skipped with the reason
            modified = {m["style"] for m in summary["modified"]}
            for name in ("Bob Ross", "Fred Rogers"):
                assert name in modified or summary["auto"]["skipped"].get(ids[name]), name
            for m in summary["modified"]:  # only held edges were planned, each with before/after numbers
                assert m["before"]["holds"] == 1.0 and {"marker_logprob", "neutral_logprob"} <= set(m["after"])
            if summary["modified"]:
                assert any(r.id == summary["run_record"] for r in store.runs(graph.name))
        # a re-run resumes from the stage cache and the LLM response cache: no new request
        again = run_auto(cfg, n_styles=2)
        assert len(server.requests) == 3
        assert again.summary.modified == summary["modified"]
        assert outcome.report_html.exists()
