"""Typed parameters: a method's settings as a frozen dataclass, validated once, when the config loads.

A method declares its parameters as a subclass of :class:`Params` with annotated fields::

    class SSLPrototypeParams(Params):
        k: Annotated[int, Ge(1)]
        distance: Literal["cosine", "l1", "l2"] = "cosine"
        pool_fraction: Annotated[float, Gt(0), Le(1)] = 1.0

Subclasses become frozen, keyword-only dataclasses on their own (no decorator needed).
:meth:`Params.parse` turns a config mapping into an instance and raises one :class:`DQError` that
names the config key and the expected value (``metrics[1].variants[0].params.k: expected an integer
>= 1; got 0``). The checks come from the annotations alone: ``int`` (not ``bool``), ``float`` (an int is
accepted and converted), ``bool``, ``str``, ``Literal[...]`` choices, ``X | None``, and the bounds
:class:`Ge`, :class:`Gt`, :class:`Le`, :class:`Lt` and :class:`Match` in ``Annotated``. A rule that ties
two fields together goes in :meth:`Params.check`, which raises through :meth:`Params.fail`.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from dqreview.errors import DQError

__all__ = [
    "RUN",
    "Annotated",
    "Ge",
    "Gt",
    "Le",
    "Literal",
    "Lt",
    "Match",
    "NoParams",
    "Params",
    "RunSeed",
    "config_key",
]


@dataclasses.dataclass(frozen=True)
class _Bound:
    value: float
    op: ClassVar[str] = ""

    def holds(self, x: float) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


class Ge(_Bound):
    """Lower bound, inclusive."""

    op = ">="

    def holds(self, x):
        return x >= self.value


class Gt(_Bound):
    """Lower bound, exclusive."""

    op = ">"

    def holds(self, x):
        return x > self.value


class Le(_Bound):
    """Upper bound, inclusive."""

    op = "<="

    def holds(self, x):
        return x <= self.value


class Lt(_Bound):
    """Upper bound, exclusive."""

    op = "<"

    def holds(self, x):
        return x < self.value


@dataclasses.dataclass(frozen=True)
class Match:
    """A string that matches ``pattern`` in full; ``example`` is shown in the error."""

    pattern: str
    example: str

    def holds(self, x: str) -> bool:
        return re.fullmatch(self.pattern, x) is not None

    def __str__(self) -> str:
        return f"of the form {self.example}"


#: The value of a :data:`RunSeed` field that follows the run seed.
RUN = "run"
#: A scoring seed (k-means initialisation, sampling): a fixed integer, or ``"run"``, meaning seed s of the grid
#: fits and scores with seed s (the workflow then keeps one fitted state and one score file per seed).
RunSeed = Annotated[int, Ge(0)] | Literal["run"]


class Params:
    """Base of every method's parameters (a frozen, keyword-only dataclass once subclassed)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__dataclass_fields__" not in cls.__dict__:
            dataclasses.dataclass(frozen=True, kw_only=True)(cls)

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | Params | None, where: str = "params"):
        """An instance from a config mapping (absent keys take their defaults).

        Parameters
        ----------
        raw : mapping, Params or None
            The variant's ``params`` as written in the config; an instance of ``cls`` is returned as is.
        where : str
            The config key of the mapping, used in every error (``metrics[2].variants[0].params``).
        """
        if isinstance(raw, cls):
            return raw
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise DQError(f"{where}: expected a mapping of parameters; got {raw!r}")
        fields = {_key(f): f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(fields))
        if unknown:
            raise DQError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
        hints = typing.get_type_hints(cls, include_extras=True)
        values = {
            fields[key].name: _coerce(value, hints[fields[key].name], f"{where}.{key}")
            for key, value in raw.items()
        }
        missing = [
            key
            for key, f in fields.items()
            if f.name not in values
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise DQError(f"{where}: missing required key(s) {missing}")
        params = cls(**values)
        params.check(where)
        return params

    def check(self, where: str) -> None:
        """Rules between fields; raise with :meth:`fail`. The default has none."""

    def fail(self, where: str, name: str, message: str) -> typing.NoReturn:
        """Raise a DQError for field ``name``: ``<where>.<config key>: <message>; got <value>``."""
        f = next(f for f in dataclasses.fields(self) if f.name == name)
        raise DQError(f"{where}.{_key(f)}: {message}; got {getattr(self, name)!r}")

    def run_seed_fields(self) -> list[str]:
        """The config keys of the fields declared :data:`RunSeed` (the variant's scoring seeds)."""
        hints = typing.get_type_hints(type(self), include_extras=True)
        return [_key(f) for f in dataclasses.fields(self) if hints[f.name] == RunSeed]

    @property
    def follows_run_seed(self) -> bool:
        """Some scoring seed is ``"run"``: seed s of the grid fits and scores with seed s."""
        return any(v == RUN for v in self.fixed_seeds(every=True).values())

    def fixed_seeds(self, every: bool = False) -> dict[str, Any]:
        """Config key → value of each scoring seed fixed to an integer (``every``: also those set to ``"run"``)."""
        values = self.to_dict()
        return {k: values[k] for k in self.run_seed_fields() if every or values[k] != RUN}

    def with_run_seed(self, seed: int) -> Params:
        """These parameters with every ``"run"`` scoring seed set to ``seed`` (the run's seed)."""
        names = {_key(f): f.name for f in dataclasses.fields(self)}
        return dataclasses.replace(
            self, **{names[k]: int(seed) for k, v in self.fixed_seeds(every=True).items() if v == RUN}
        )

    def to_dict(self) -> dict[str, Any]:
        """The parameters by config key."""
        return {_key(f): getattr(self, f.name) for f in dataclasses.fields(self)}


def config_key(key: str, default: Any = dataclasses.MISSING) -> Any:
    """A field whose config key is not a Python name (``from_: str | None = config_key("from", None)``)."""
    return dataclasses.field(default=default, metadata={"key": key})


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


class NoParams(Params):
    """A method without parameters."""


def _describe(tp) -> str:
    base, bounds = _split(tp)
    if base is type(None):
        return "null"
    origin = get_origin(base)
    if origin is Literal:
        return "one of " + str(list(get_args(base)))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(base))
    name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(base, str(base))
    return f"{name} {' and '.join(str(b) for b in bounds)}" if bounds else name


def _split(tp) -> tuple[Any, tuple]:
    if get_origin(tp) is Annotated:
        base, *extras = get_args(tp)
        return base, tuple(extras)
    return tp, ()


def _coerce(value: Any, tp, key: str) -> Any:
    """``value`` checked against the annotation ``tp`` (ints become floats where a float is asked)."""
    base, bounds = _split(tp)
    origin = get_origin(base)
    if origin in (Union, types.UnionType):
        for option in get_args(base):
            try:
                return _coerce(value, option, key)
            except DQError:
                continue
        raise DQError(f"{key}: expected {_describe(tp)}; got {value!r}")
    if origin is Literal:
        if value in get_args(base) and not (isinstance(value, bool) and True not in get_args(base)):
            return value
        raise DQError(f"{key}: {value!r} is not one of {list(get_args(base))}")
    ok = {
        type(None): value is None,
        bool: isinstance(value, bool),
        int: isinstance(value, numbers.Integral) and not isinstance(value, bool),
        float: isinstance(value, numbers.Real) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(base)
    if ok is None:
        raise TypeError(f"{key}: unsupported parameter annotation {tp!r}")
    if not ok or not all(b.holds(value) for b in bounds):
        raise DQError(f"{key}: expected {_describe(tp)}; got {value!r}")
    if base is float:
        return float(value)
    if base is int:
        return int(value)
    return value
