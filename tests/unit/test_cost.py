"""Cost records: fields, timing, atomic write on success only, loading, FLOP formula."""

import dataclasses
import json
import math

import pytest

from dqreview.cost import FIELDS, CostRecord, encoder_flops, load_costs, measure


def test_measure_writes_record(tmp_path):
    path = tmp_path / "cost" / "job.json"
    with measure("embed", "embed/shard-0", path, "cpu") as rec:
        sum(i * i for i in range(100_000))
        rec.items = 42
        rec.flops, rec.flops_formula = encoder_flops(1000, 22_000_000)
        rec.extra["batch_size"] = 64
    data = json.loads(path.read_text())
    assert set(FIELDS) <= set(data)
    assert data["stage"] == "embed" and data["job"] == "embed/shard-0" and data["device"] == "cpu"
    assert data["wall_s"] >= 0 and data["cpu_s"] >= 0 and data["items"] == 42
    assert data["flops"] == 2 * 22_000_000 * 1000 and "2 * N * tokens" in data["flops_formula"]
    assert not [p for p in path.parent.iterdir() if p.name != "job.json"]  # no temp files left


def test_measure_writes_nothing_on_failure(tmp_path):
    path = tmp_path / "job.json"
    with pytest.raises(RuntimeError):
        with measure("score", "s", path):
            raise RuntimeError("boom")
    assert not path.exists()


def test_load_costs(tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.json")
        with measure("select", f"job{i}", paths[-1]) as rec:
            rec.items = i
            rec.extra["budget"] = 0.1 * i
    df = load_costs(paths)
    assert list(df["job"]) == ["job0", "job1", "job2"] and list(df["items"]) == [0, 1, 2]
    assert "extra.budget" in df.columns and (df["wall_s"] >= 0).all()
    assert len(load_costs([])) == 0


def test_records_without_startup_still_load(tmp_path):
    """startup_s came later: older records load with it empty, newer ones keep it."""
    old = {f: v for f, v in dataclasses.asdict(CostRecord("select", "a")).items() if f != "startup_s"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(
        json.dumps(dataclasses.asdict(CostRecord("select", "b", startup_s=0.4)))
    )
    df = load_costs([tmp_path / "old.json", tmp_path / "new.json"]).set_index("job")
    assert df.loc["a", "startup_s"] is None or math.isnan(df.loc["a", "startup_s"])
    assert df.loc["b", "startup_s"] == 0.4
