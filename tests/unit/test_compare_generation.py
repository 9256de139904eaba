"""stylekg compare with generation columns on the tiny GPT-2: every row judged in its answers, two more baselines."""

from __future__ import annotations

import json

import pytest

from stylekg.pipeline.compare import compare_style, markdown


@pytest.fixture()
def prompt_file(tmp_path):
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps({"train": [f"Tell {{}} about topic {i}." for i in range(4)],
                                "heldout": ["Describe the sea, {}.", "Explain rain, {}.", "Give advice, {}."]}))
    return str(path)


def test_compare_adds_generation_columns_prompting_and_a_steering_search(tiny, home, prompt_file):
    result = compare_style(tiny, "Yoda", ["penalty-ft", "steer"], max_markers=1, prompts=prompt_file,
                           max_new_tokens=8)
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"none", "penalty-ft", "steer", "prompting"}
    for name, row in rows.items():
        m = row["metrics"]
        assert not row["error"], name
        assert m["gen_marker_rate_low"] <= m["gen_marker_rate"] <= m["gen_marker_rate_high"], name
        assert m["gen_fluency_ppl"] > 1 and 0 <= m["gen_repetition"] <= 1 and 0 <= m["gen_distinct_2"] <= 1
    assert rows["prompting"]["params_changed"] == 0 and "system" in rows["prompting"]["info"]
    search = result["steering_search"]
    assert search[0]["strength"] == 0.0 and len(search) > 1 and all(t["strength"] <= 0 for t in search)
    table = markdown(result)
    assert "generated markers /1k" in table and "| prompting |" in table and "Steering strength search" in table
    assert result["heldout_prompts"] == 3
