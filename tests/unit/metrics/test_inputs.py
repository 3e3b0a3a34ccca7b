"""The input table's static-encoder twins: ``space: static`` swaps the sentence embeddings and nothing else."""

import pytest

from dqreview.metrics import load_method
from dqreview.metrics.inputs import (
    EMBEDDINGS,
    POOL_EMBEDDINGS,
    POOL_IDS,
    TARGET_EMBEDDINGS,
    TARGET_LOSSES,
    in_static_space,
    shared_stage_costs,
)


def test_static_twins_keep_the_names_and_change_template_and_stage():
    twins = in_static_space((EMBEDDINGS, POOL_EMBEDDINGS, POOL_IDS, TARGET_EMBEDDINGS, TARGET_LOSSES))
    assert [t.name for t in twins] == [
        "embeddings",
        "pool_embeddings",
        "pool_ids",
        "target_embeddings",
        "target_losses",
    ]
    assert twins[0].template == "results/embed-static/pool/shard-{shard}.npy"
    assert twins[3].template == "results/embed-static/target/ref.npy"
    assert [t.stage for t in twins] == ["embed_static"] * 2 + [None, "embed_static", "task2vec"]
    assert twins[2] is POOL_IDS and twins[4] is TARGET_LOSSES
    assert twins[1].pool_rows and twins[1].per_shard
    assert in_static_space(None) is None


def test_static_stage_charges_the_distillation_first():
    assert shared_stage_costs("embed_static", [0, 1], probe_trained=True) == [
        "results/cost/distill_static.json",
        "results/cost/embed_static/pool/shard-0.json",
        "results/cost/embed_static/pool/shard-1.json",
        "results/cost/embed_static/target/ref.json",
    ]


@pytest.mark.parametrize(
    "metric, params",
    [
        ("ssl_proto", {"k": 4, "space": "static"}),
        ("proto_align", {"k": 4, "space": "static"}),
        ("proto_align", {"source": "hard", "hard_by": "probe_loss", "k": 4, "space": "static"}),
        ("semdedup", {"k": 4, "eps": 0.05, "space": "static"}),
    ],
)
def test_space_static_reads_only_static_embeddings(metric, params):
    method = load_method(metric)
    p = method.Params.parse(params, where=metric)
    stages = {i.stage for i in method.inputs(p)}
    assert "embed_static" in stages and "embed" not in stages
    plain = method.Params.parse({k: v for k, v in params.items() if k != "space"}, where=metric)
    assert "embed_static" not in {i.stage for i in method.inputs(plain)}


def test_space_static_is_refused_where_not_declared():
    from dqreview.errors import DQError

    with pytest.raises(DQError, match=r"d4: unknown key\(s\) \['space'\]"):
        load_method("d4").Params.parse({"k": 4, "space": "static"}, where="d4")
