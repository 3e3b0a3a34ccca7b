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
        (lambda c: c["metrics"][1].__setitem__("name", "dsir_typo"), "known metrics"),
        (lambda c: c["metrics"][0].__setitem__("keep", ["low"]), "not allowed for metric 'random'"),
        (lambda c: c["sources"][0].__setitem__("sha256", "abc"), "'sources[0].sha256'"),
    ],
)
def test_config_errors_name_the_key(mutate, expected):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    mutate(cfg)
    with pytest.raises(DQError) as info:
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    assert expected in str(info.value)


def test_default_configs_validate():
    for extra in [None, "configs/tiny.yaml"]:
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
        if extra:
            cfg.update(yaml.safe_load((REPO / extra).read_text()))
        validate_config(cfg, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
        assert cfg["prepare"]["overlap_ngram"] == 13  # defaults filled in
