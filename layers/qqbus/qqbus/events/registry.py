"""Dispatch keys derived from the models' single-value ``Literal`` fields.

A model registers itself with ``register``; its key is read off its ``Literal`` annotations,
so there is no hand-kept table to fall out of step with the classes. Lookup tries the most
specific key first and falls back to shorter ones, so an unknown ``sub_type`` still parses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, get_args, get_origin, overload

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)
_Named = tuple[tuple[str, Callable[[Any], M]], ...]


def literal_value(model: type[BaseModel], field: str) -> str | int | None:
    """The value of ``field`` when the model pins it with a one-value ``Literal``, else None."""
    info = model.model_fields.get(field)
    if info is None or get_origin(info.annotation) is not Literal:
        return None
    values = get_args(info.annotation)
    return values[0] if len(values) == 1 else None


class ModelRegistry(Generic[M]):
    """Models keyed on a path of discriminator fields (most general first)."""

    def __init__(self, base: type[M], key_fields: tuple[tuple[str, ...], ...]) -> None:
        # key_fields[i] lists the candidate field names for level i (the first one pinned wins).
        self.base = base
        self._key_fields = key_fields
        self._models: dict[tuple[object, ...], type[M]] = {}
        self._candidates: dict[tuple[object, ...], list[type[M]]] = {}  # lookups, by key
        # parse(): by key, the specific models' (name, validator)s, most specific first, and the base's.
        self._validators: dict[tuple[object, ...], tuple[_Named[M], Callable[[Any], M]]] = {}

    def model_key(self, model: type[M]) -> tuple[object, ...]:
        key: list[object] = []
        for candidates in self._key_fields:
            value = next(
                (v for f in candidates if (v := literal_value(model, f)) is not None),
                None,
            )
            if value is None:
                break
            key.append(value)
        return tuple(key)

    def register(self, model: type[M]) -> type[M]:
        """Register ``model`` (usable as a class decorator); a later one replaces an earlier."""
        key = self.model_key(model)
        if not key:
            raise TypeError(f"{model.__name__} pins no discriminator field with a Literal")
        self._models[key] = model
        self._candidates.clear()
        self._validators.clear()
        return model

    def candidates(self, values: tuple[object, ...]) -> list[type[M]]:
        """Registered models for ``values``, most specific first, ending with the base (one dict
        lookup once a key has been seen)."""
        found = self._candidates.get(values)
        if found is None:
            models = [
                self._models[values[:n]] for n in range(len(values), 0, -1) if values[:n] in self._models
            ]
            found = self._candidates[values] = [*models, self.base]
        return found

    @overload
    def parse(self, values: tuple[object, ...], payload: Any) -> tuple[M, str | None]: ...

    @overload
    def parse(
        self, values: tuple[object, ...], payload: Any, fallback: Callable[[Any], B]
    ) -> tuple[M | B, str | None]: ...

    def parse(
        self, values: tuple[object, ...], payload: Any, fallback: Callable[[Any], B] | None = None
    ) -> tuple[M | B, str | None]:
        """The most specific model for ``values`` that ``payload`` validates against (the base
        model last, then ``fallback`` if given), and why a more specific one did not fit.

        Hot path of every ingress: the candidates' validators are looked up once per key and
        called directly (``model_validate`` is the same call behind a Python wrapper).

        Raises
        ------
        pydantic.ValidationError
            When the last one tried does not fit either.
        """
        entry = self._validators.get(values)
        if entry is None:
            *specific, _ = self.candidates(values)
            entry = self._validators[values] = (
                tuple((model.__name__, _validator_of(model)) for model in specific),
                _validator_of(self.base),
            )
        specific_validators, base = entry
        problem: str | None = None
        for name, validate in specific_validators:
            try:
                return validate(payload), problem
            except ValueError as exc:  # pydantic.ValidationError is a ValueError
                problem = problem or f"{name}: {error_summary(exc)}"
        if fallback is None:
            return base(payload), problem
        try:
            return base(payload), problem
        except ValueError as exc:
            problem = problem or f"{self.base.__name__}: {error_summary(exc)}"
        return fallback(payload), problem

    def models(self) -> list[type[M]]:
        return list(self._models.values())


def _validator_of(model: type[M]) -> Callable[[Any], M]:
    """``model``'s own ``validate_python``, built now if the model defers its build."""
    model.model_rebuild()  # a no-op once built
    return model.__pydantic_validator__.validate_python  # type: ignore[return-value]


def error_summary(exc: ValueError) -> str:
    """A one-line account of a pydantic validation error: ``field.path: message; ...``."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors())
    return str(exc)
