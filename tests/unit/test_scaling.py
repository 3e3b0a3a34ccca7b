"""The cost-curve runner: synthetic pool, slope estimator, table schema, and a tiny end-to-end run."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from dqreview import paths, scaling
from dqreview.errors import DQError
from dqreview.io import write_parquet

WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly box jumping frogs".split()


def _chunks(n: int = 60, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(40, 90)))) for _ in range(n)]


def _pool(n: int, seed: int = 0, **kw) -> pd.DataFrame:
    bank = scaling.ChunkBank.from_texts(_chunks(), ["a", "b"] * 30)
    return pd.concat(list(scaling.synthetic_pool(bank, n, seed, **kw)), ignore_index=True)


def _shingles(text: str, n: int = 5) -> set:
    w = text.split()
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def test_synthetic_pool_is_deterministic_and_nested():
    a, b = _pool(300, seed=3), _pool(300, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a["text"].equals(_pool(300, seed=4)["text"])
    # a larger pool starts with the smaller one (batches are keyed by seed and batch index)
    big = _pool(scaling.BATCH_DOCS + 10, seed=3)
    small = _pool(scaling.BATCH_DOCS - 5, seed=3)
    pd.testing.assert_frame_equal(big.iloc[: len(small)].reset_index(drop=True), small)
    assert len(big) == scaling.BATCH_DOCS + 10 and big["document"].is_unique


def test_synthetic_pool_streams_fixed_batches():
    bank = scaling.ChunkBank.from_texts(_chunks())
    sizes = [len(b) for b in scaling.synthetic_pool(bank, 2 * scaling.BATCH_DOCS + 7, 0)]
    assert sizes == [scaling.BATCH_DOCS, scaling.BATCH_DOCS, 7]


def test_near_duplicate_rate_and_closeness_as_stated():
    df = _pool(4000, seed=1, edit_rate=0.1, near_rate=0.05)
    near = df["near_of"].to_numpy() >= 0
    assert (df.loc[near, "planted"] == scaling.NEAR).all() and (df.loc[~near, "planted"] == "").all()
    # 5% expected; binomial sd over 4000 is 0.34%
    assert abs(near.mean() - 0.05) < 0.015
    texts = df["text"].tolist()
    jac = [
        len(_shingles(texts[i]) & _shingles(texts[j])) / len(_shingles(texts[i]) | _shingles(texts[j]))
        for i, j in zip(np.flatnonzero(near), df["near_of"].to_numpy()[near], strict=True)
    ]
    assert np.median(jac) > 0.6  # 2% edits per word: most 5-word shingles survive
    # fresh documents are perturbed copies: (almost) never exact duplicates of each other
    assert df.loc[~near, "text"].duplicated().mean() < 0.01


def test_edit_words_at_rate_zero_is_a_copy_and_keeps_one_word():
    rng = np.random.default_rng(0)
    w = np.arange(50, dtype=np.int32)
    np.testing.assert_array_equal(scaling.edit_words(w, 0.0, 100, rng), w)
    assert len(scaling.edit_words(np.array([7], dtype=np.int32), 0.99, 100, rng)) >= 1
    edited = scaling.edit_words(w, 0.3, 1000, rng)
    assert 35 < len(edited) < 50  # about a tenth dropped


@pytest.mark.parametrize("bad", [0, -1])
def test_synthetic_pool_rejects_bad_sizes(bad):
    with pytest.raises(DQError, match="n_docs"):
        next(scaling.synthetic_pool(scaling.ChunkBank.from_texts(_chunks()), bad, 0))


def test_slope_of_exact_power_laws():
    n = np.array([1e4, 1e5, 1e6])
    assert scaling.loglog_slope(n, 3e-5 * n) == pytest.approx(1.0)
    assert scaling.loglog_slope(n, 2e-9 * n**2) == pytest.approx(2.0)
    assert scaling.loglog_slope(n, 1e-3 * n * np.log(n)) == pytest.approx(1.0 + 1 / np.log(1e5), abs=0.01)
    assert scaling.loglog_slope(n, np.full(3, 4.0)) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(scaling.loglog_slope([1e4], [1.0]))


def test_table_schema_slopes_and_rates():
    raw = pd.DataFrame(
        {
            "stage": ["prepare", "prepare", "embed:minilm", "embed:minilm"],
            "method": ["", "", "", ""],
            "n_docs": [1000, 10000, 1000, 10000],
            "wall_s": [1.0, 10.0, 5.0, 50.0],
            "cpu_s": [1.0, 9.0, 5.0, 50.0],
            "peak_rss_mb": [100.0, 200.0, 900.0, 900.0],
            "extrapolated": [False, False, True, True],
        }
    )
    table = scaling.scaling_table(raw)
    assert list(table.columns) == scaling.COLUMNS == [
        "stage", "method", "n_docs", "wall_s", "cpu_s", "peak_rss_mb", "us_per_doc", "slope", "complexity",
        "extrapolated",
    ]  # fmt: skip
    assert table["us_per_doc"].tolist() == pytest.approx([1000.0, 1000.0, 5000.0, 5000.0])
    assert table["slope"].tolist() == pytest.approx([1.0] * 4)
    assert table["complexity"].iloc[0] == scaling.COMPLEXITY["prepare"]
    assert table["extrapolated"].dtype == bool and table["extrapolated"].tolist() == [
        False,
        False,
        True,
        True,
    ]
    scaling.check_table(table)
    with pytest.raises(DQError, match="expected exactly"):
        scaling.check_table(table.drop(columns="slope"))
    with pytest.raises(DQError, match="repeated"):
        scaling.check_table(pd.concat([table, table.iloc[:1]]))


@pytest.mark.parametrize("bad", [[0, 10], [10, "x"], "1000", [True], [10, 10]])
def test_bad_sizes_name_the_key(bad):
    with pytest.raises(DQError, match=r"review\.scaling\.sizes"):
        scaling.check_sizes(bad, "review.scaling.sizes")
    assert scaling.check_sizes([100, 10]) == [10, 100]


def test_summary_against_the_goal():
    table = pd.DataFrame(
        {"stage": ["prepare", "embed:minilm", "select"], "n_docs": [10**6] * 3, "wall_s": [100.0, 9999.0, 20.0],
         "peak_rss_mb": [1000.0, 99999.0, 3000.0]}
    )  # fmt: skip
    text = scaling.summary(table)
    assert (
        "end to end 120 s" in text
        and "met" in text
        and "MISSED" not in text
        and "slowest stage prepare" in text
    )


@pytest.fixture(scope="module")
def scaling_run(tmp_path_factory):
    """Prepare → static embed → DSIR, MinHash, ssl_proto, proto_align, SemDeDup → select at two small sizes,
    in this process with two forked workers per per-shard stage; a random 32-dimensional static encoder
    stands in for the distilled one."""
    tmp = tmp_path_factory.mktemp("scaling")
    from model2vec import StaticModel
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "[PAD]": 1, **{w: i + 2 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    emb = np.random.default_rng(0).normal(size=(len(vocab), 32)).astype(np.float32)
    StaticModel(vectors=emb, tokenizer=tok, normalize=True).save_pretrained(str(tmp / "static"))
    config = json.loads((tmp / "static" / "config.json").read_text())
    (tmp / "static" / "config.json").write_text(json.dumps({**config, "model_type": "model2vec"}))
    write_parquet(pd.DataFrame({"text": _chunks(80), "domain": ["a", "b"] * 40}), tmp / "shard-0.parquet")
    target = pd.DataFrame({"id": [f"t{i}" for i in range(40)], "text": _chunks(40, seed=9)})
    write_parquet(target, tmp / "ref.parquet")
    variants = [
        scaling.Variant("dsir", "b", {"num_buckets": 1000}),
        scaling.Variant("minhash", "p", {"num_perm": 32, "threshold": 0.8}),
        scaling.Variant("ssl_proto", "k", {"k": 4, "seed": "run", "n_iter": 5, "n_init": 1}),
        scaling.Variant("proto_align", "k", {"source": "kmeans", "k": 4, "seed": "run"}),
        scaling.Variant("semdedup", "e", {"k": 4, "eps": 0.05, "seed": "run", "n_iter": 5}),
    ]
    cwd = os.getcwd()
    os.chdir(tmp)  # relative inputs (as the rule passes them) survive the stages' own cwd
    try:
        raw = scaling.run_scaling([400, 200], "work", "shard-*.parquet", "ref.parquet", "static", variants,
                                  minilm=None, shards=2, isolate=False, workers=2)  # fmt: skip
    finally:
        os.chdir(cwd)
    return tmp, raw


def test_tiny_end_to_end_run(scaling_run):
    tmp, raw = scaling_run
    table = scaling.scaling_table(raw)
    scaling.check_table(table)
    stages = list(dict.fromkeys(table["stage"]))
    assert stages == [
        "prepare", "embed:static", "dsir:fit", "dsir:score", "minhash:features", "minhash:fit", "minhash:score",
        "ssl_proto:fit", "ssl_proto:score", "proto_align:fit", "proto_align:score", "semdedup:fit",
        "semdedup:score", "select",
    ]  # fmt: skip
    assert sorted(table["n_docs"].unique()) == [200, 400] and len(table) == 2 * len(stages)
    assert (table["wall_s"] > 0).all() and (table["cpu_s"] >= 0).all() and (table["peak_rss_mb"] > 50).all()
    assert np.isfinite(table["slope"]).all() and not table["extrapolated"].any()
    assert set(table.loc[table["stage"] == "dsir:fit", "method"]) == {"dsir"}
    assert set(table.loc[table["stage"].isin(["prepare", "embed:static", "select"]), "method"]) == {""}
    assert (raw["prepared"] >= raw["n_docs"]).all()  # chunking never merges documents
    assert not (tmp / "work" / "n200").exists()  # scratch removed once measured
    scaling.plot_scaling(table, tmp / "scaling.pdf")
    assert (tmp / "scaling.pdf").read_bytes()[:4] == b"%PDF"


def test_a_stage_in_a_child_process_is_measured_alone(scaling_run, tmp_path):
    """The child's peak RSS is its own: far below this process's after it touched 800 MB."""
    import resource

    tmp, _ = scaling_run
    big = np.ones(100_000_000)  # 800 MB resident in the parent only
    m = scaling.measure_stage("generate", tmp_path, pool=str(tmp / "shard-*.parquet"), n_docs=50, seed=0,
                              edit_rate=0.1, near_rate=0.05)  # fmt: skip
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del big
    assert m["items"] == 50 and m["wall_s"] > 0 and m["cpu_s"] > 0
    assert 50 < m["peak_rss_mb"] < parent_mb - 600
    assert len(pd.read_parquet(tmp_path / "raw" / "part-0000.parquet")) == 50


def test_workers_do_not_change_what_the_stages_write(scaling_run, tmp_path):
    """Prepare and the static embed give the same shards and vectors one at a time and two at a time."""
    tmp, _ = scaling_run
    out = {}
    for workers in (1, 2):
        wd = tmp_path / f"w{workers}"
        wd.mkdir()
        kw = {
            "pool": str(tmp / "shard-*.parquet"),
            "n_docs": 300,
            "seed": 0,
            "edit_rate": 0.1,
            "near_rate": 0.05,
        }
        scaling.measure_stage("generate", wd, False, **kw)
        # one raw part at this size (parts hold BATCH_DOCS documents): split it so workers share parts
        raw = pd.read_parquet(wd / "raw" / "part-0000.parquet")
        (wd / "raw" / "part-0000.parquet").unlink()
        for i, part in enumerate(np.array_split(np.arange(len(raw)), 3)):
            raw.iloc[part].to_parquet(wd / "raw" / f"part-{i:04d}.parquet", index=False)
        m = scaling.measure_stage("prepare", wd, False, target=str(tmp / "ref.parquet"), shards=2, chunk_words=128,
                                  max_chunk_words=192, model_dir=str(tmp / "static"), workers=workers)  # fmt: skip
        scaling.measure_stage(
            "embed_static", wd, False, model_dir=str(tmp / "static"), shards=2, workers=workers
        )
        shards = [pd.read_parquet(wd / paths.fill(paths.POOL_SHARD, shard=s)) for s in range(2)]
        vectors = [
            np.load(wd / paths.fill(paths.EMBED, part=f"pool/shard-{s}"), allow_pickle=False)
            for s in range(2)
        ]
        out[workers] = (m["items"], shards, vectors, pd.read_parquet(wd / paths.POOL_INDEX))
        assert not (wd / scaling.PREP_DIR).exists()
    (n1, s1, v1, i1), (n2, s2, v2, i2) = out[1], out[2]
    assert n1 == n2 == len(i1) >= 300
    for a, b in zip(s1, s2, strict=True):
        pd.testing.assert_frame_equal(a, b)
    for a, b in zip(v1, v2, strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(i1, i2)


def test_variants_cross_to_the_stage_process_as_json():
    """A stage's keyword arguments (variants included) reach the child process intact, as JSON (no pickle)."""
    import json

    kwargs = {"variants": [scaling.Variant("ssl_proto", "k", {"k": 4, "seed": "run", "nested": {"a": [1, 2]}})],
              "variant": scaling.Variant("dsir", "b", {}), "budget": np.float64(0.1), "shards": 2}  # fmt: skip
    back = json.loads(json.dumps(kwargs, default=scaling._json_scalar), object_hook=scaling._from_json)
    assert back == kwargs and back["variants"][0].params == kwargs["variants"][0].params
    with pytest.raises(TypeError, match="set cannot pass between stage processes"):
        json.dumps({"x": {1}}, default=scaling._json_scalar)


def test_a_failing_stage_reports_its_traceback(tmp_path):
    with pytest.raises(DQError, match=r"stage prepare .* failed[\s\S]*Traceback"):
        scaling.measure_stage("prepare", tmp_path, target=str(tmp_path / "missing.parquet"), shards=1,
                              chunk_words=128, max_chunk_words=192, model_dir="none")  # fmt: skip


def test_config_key_sizes_draws_the_rule_and_bad_sizes_name_the_key():
    import yaml

    from conftest import REPO
    from dqreview import paths
    from dqreview.config import validate_config
    from dqreview.plan import Plan

    default = validate_config(yaml.safe_load((REPO / "config.yaml").read_text()))

    assert Plan(default).scaling_sizes == []
    assert paths.SCALING_TABLE not in Plan(default).targets(paper=False)
    config = {**default, "review": {**default["review"], "scaling": {"sizes": [2000, 5000]}}}
    targets = Plan(validate_config(config)).targets(paper=False)
    assert paths.SCALING_TABLE in targets and paths.SCALING_FIGURE in targets
    for bad in ([0], [5, 5], ["many"]):
        config = {**default, "review": {**default["review"], "scaling": {"sizes": bad}}}
        with pytest.raises(DQError, match=r"review\.scaling\.sizes"):
            validate_config(config)
