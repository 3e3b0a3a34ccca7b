"""The metric registry (dqreview.metrics): every registered method keeps the protocol, unknown names list the
known ones, and a config entry's variants are validated with their config keys."""

import pytest

from dqreview.errors import DQError
from dqreview.metrics import (
    REGISTRY,
    DocumentScorer,
    MixtureLearner,
    dq,
    inputs,
    known_metrics,
    load_method,
    prototypes,
    t2v_align,
    validate_metric_entry,
)
from dqreview.params import Params


def test_registry_methods_follow_protocol():
    for name in known_metrics():
        method = load_method(name)
        assert method.name == name and load_method(name) is method
        assert isinstance(method, DocumentScorer | MixtureLearner)
        assert issubclass(method.Params, Params)
        assert set(method.keep) <= {"high", "low"} and method.keep
        if isinstance(method, MixtureLearner):  # a learned mixture: selection instead of scores
            assert type(method).select_budget is not MixtureLearner.select_budget
            continue
        assert method.features in (None, inputs.EMBEDDINGS, inputs.T2V)
        # every fit input is in the input table (a known file with a loader), and a fit is implemented
        assert all(inputs.TABLE.get(i.name) is i for i in method.fit_inputs), name
        if method.fits:
            assert type(method).fit is not DocumentScorer.fit, name
        if method.has_shard_features:
            assert type(method).shard_features is not DocumentScorer.shard_features, name
    assert set(REGISTRY) == {
        "random", "ssl_proto", "proto_align", "semdedup", "d4", "minhash", "dsir", "doremi", "skillit", "t2v_align",
        "t2v_complexity", "dq",
    }  # fmt: skip
    # the deduplicating methods (judged against the planted duplicates) are exactly these
    assert {n for n in known_metrics() if load_method(n).deduplicates} == {"semdedup", "d4", "minhash"}


def test_unknown_metric_lists_known_ones():
    with pytest.raises(
        DQError,
        match=r"unknown metric 'nope'; known metrics: d4, doremi, dq, dsir, minhash, proto_align, random, semdedup, "
        r"skillit, ssl_proto, t2v_align, t2v_complexity",
    ):
        load_method("nope")


def test_validate_metric_entry():
    ok = {
        "name": "ssl_proto",
        "keep": ["high", "low"],
        "variants": [{"slug": "pool-k20", "params": {"k": 20}}],
    }
    method, params = validate_metric_entry(ok, 1)
    assert isinstance(method, prototypes.SSLPrototypes) and method.name == "ssl_proto"
    assert params == {"pool-k20": prototypes.SSLProtoParams(k=20)}
    # a bad variant param is reported with its config key
    bad = {**ok, "variants": [{"slug": "pool-k0", "params": {"k": 0}}]}
    with pytest.raises(
        DQError, match=r"^metrics\[1\]\.variants\[0\]\.params\.k: expected an integer >= 1; got 0$"
    ):
        validate_metric_entry(bad, 1)
    with pytest.raises(
        DQError, match=r"^metrics\[1\]\.variants\[0\]\.params: missing required key\(s\) \['k'\]$"
    ):
        validate_metric_entry({**ok, "variants": [{"slug": "a"}]}, 1)
    with pytest.raises(DQError, match=r"metrics\[2\].keep: \['low'\] not allowed for metric 'random'"):
        validate_metric_entry({"name": "random", "keep": ["high", "low"], "variants": [{"slug": "u"}]}, 2)
    with pytest.raises(DQError, match=r"metrics\[0\].variants\[1\].slug: 'a' repeats"):
        validate_metric_entry(
            {"name": "random", "keep": ["high"], "variants": [{"slug": "a"}, {"slug": "a"}]}
        )
    with pytest.raises(DQError, match=r"metrics\[0\].variants\[0\].slug: 'bad/slug'"):
        validate_metric_entry({"name": "random", "keep": ["high"], "variants": [{"slug": "bad/slug"}]})
    with pytest.raises(DQError, match=r"metrics\[3\].name: unknown metric 'x'"):
        validate_metric_entry({"name": "x", "variants": [{"slug": "a"}]}, 3)


def test_t2v_align_and_dq_are_registered():
    assert (
        isinstance(load_method("t2v_align"), t2v_align.T2VAlign)
        and load_method("t2v_align").name == "t2v_align"
    )
    assert isinstance(load_method("dq"), dq.DQ)
    T2V, DQ = t2v_align.METHOD, dq.METHOD
    assert T2V.features.name == "t2v" and [i.name for i in T2V.fit_inputs] == ["target_t2v", "target_losses"]
    assert DQ.features is None and [i.name for i in DQ.fit_inputs] == ["pool_t2v", "pool_ids", "target_t2v"]


def test_every_registered_method_declares_its_family():
    """The comparison figure's facets: every built-in method names its kind of bet (none falls to "other"),
    deduplicators are in the dedup family, mixture learners in the mixture family, and only random is the
    baseline."""
    families = {name: load_method(name).family for name in known_metrics()}
    assert set(families.values()) <= {"target-aware", "target-blind", "dedup", "mixture", "baseline"}
    assert [n for n, f in families.items() if f == "baseline"] == ["random"]
    for name in known_metrics():
        method = load_method(name)
        assert (method.family == "dedup") == method.deduplicates, name
        assert (method.family == "mixture") == isinstance(method, MixtureLearner), name
