"""Typed parameters: the annotations are the validation, errors name the config key."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import pytest

from dqreview.errors import DQError
from dqreview.params import Ge, Gt, Le, Lt, Match, NoParams, Params, RunSeed, config_key


class Example(Params):
    k: Annotated[int, Ge(1)] = 20
    fraction: Annotated[float, Gt(0), Le(1)] = 1.0
    eta: Annotated[float, Gt(0), Lt(10)] = 0.5
    distance: Literal["cosine", "l1", "l2"] = "cosine"
    batch_size: Annotated[int, Ge(1)] | None = None
    verify: bool = True
    skills: Annotated[str, Match(r"domains|ssl_proto/\w+", "ssl_proto/<slug>")] = "domains"
    static: Literal[None, "final", "average"] = None
    from_: str | None = config_key("from", None)

    def check(self, where):
        if self.from_ is not None and self.static is None:
            self.fail(where, "from_", "only a static variant reuses another variant's state")


W = "metrics[2].variants[1].params"


def test_defaults_and_conversion():
    p = Example.parse(None, W)
    assert p == Example() and p.k == 20 and p.from_ is None
    p = Example.parse({"k": 3, "fraction": 1, "from": "online", "static": "final"}, W)
    assert (p.k, p.fraction, p.from_) == (3, 1.0, "online") and isinstance(p.fraction, float)
    assert p.to_dict()["from"] == "online" and "from_" not in p.to_dict()
    assert Example.parse(p, W) is p  # already typed: returned as is
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.k = 4


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"k": 0}, "params.k: expected an integer >= 1; got 0"),
        ({"k": True}, "params.k: expected an integer >= 1; got True"),
        ({"k": 2.5}, "params.k: expected an integer >= 1; got 2.5"),
        ({"fraction": 0}, "params.fraction: expected a number > 0 and <= 1; got 0"),
        ({"fraction": "0.5"}, "params.fraction: expected a number > 0 and <= 1; got '0.5'"),
        ({"eta": 10}, "params.eta: expected a number > 0 and < 10; got 10"),
        ({"distance": "dot"}, "params.distance: 'dot' is not one of ['cosine', 'l1', 'l2']"),
        ({"batch_size": 0}, "params.batch_size: expected an integer >= 1 or null; got 0"),
        ({"verify": 1}, "params.verify: expected true or false; got 1"),
        (
            {"skills": "clusters"},
            "params.skills: expected a string of the form ssl_proto/<slug>; got 'clusters'",
        ),
        ({"static": True}, "params.static: True is not one of [None, 'final', 'average']"),
        (
            {"kk": 1, "zz": 2},
            "params: unknown key(s) ['kk', 'zz']; allowed: ['batch_size', 'distance', 'eta',",
        ),
        (
            {"from": "online"},
            "params.from: only a static variant reuses another variant's state; got 'online'",
        ),
        ([1, 2], "params: expected a mapping of parameters; got [1, 2]"),
    ],
)
def test_errors_name_the_key_and_the_expected_value(raw, message):
    with pytest.raises(DQError) as exc:
        Example.parse(raw, W)
    assert str(exc.value).startswith(f"{W}{message.removeprefix('params')}")


def test_required_fields_and_no_params():
    class Required(Params):
        k: int

    with pytest.raises(DQError, match=r"x: missing required key\(s\) \['k'\]"):
        Required.parse({}, "x")
    assert Required.parse({"k": 2}, "x").k == 2
    assert NoParams.parse(None) == NoParams()
    with pytest.raises(DQError, match="unknown key"):
        NoParams.parse({"k": 1})


def test_an_unsupported_annotation_is_a_programming_error():
    class Odd(Params):
        values: list = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="unsupported parameter annotation"):
        Odd.parse({"values": [1]})


class Seeded(Params):
    seed: RunSeed = 0
    pool_seed: int = 0  # not a scoring seed: never follows the run


@pytest.mark.parametrize(
    ("raw", "follows", "resolved", "fixed"),
    [
        ({}, False, 0, {"seed": 0}),
        ({"seed": 5}, False, 5, {"seed": 5}),
        ({"seed": "run"}, True, 2, {}),
    ],
)
def test_a_run_seed_is_an_integer_or_run(raw, follows, resolved, fixed):
    params = Seeded.parse(raw, W)
    assert params.follows_run_seed is follows
    assert params.fixed_seeds() == fixed
    assert params.run_seed_fields() == ["seed"]
    assert params.with_run_seed(2) == Seeded(seed=resolved, pool_seed=0)


@pytest.mark.parametrize("bad", ["runs", "0", -1, 1.5, True])
def test_a_run_seed_rejects_other_values_naming_the_key(bad):
    with pytest.raises(DQError) as exc:
        Seeded.parse({"seed": bad}, W)
    assert str(exc.value) == f"{W}.seed: expected an integer >= 0 or one of ['run']; got {bad!r}"
