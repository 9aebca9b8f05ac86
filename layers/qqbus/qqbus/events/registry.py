"""Dispatch keys derived from the models' single-value ``Literal`` fields.

A model registers itself with ``register``; its key is read off its ``Literal`` annotations,
so there is no hand-kept table to fall out of step with the classes. Lookup tries the most
specific key first and falls back to shorter ones, so an unknown ``sub_type`` still parses.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


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

    def models(self) -> list[type[M]]:
        return list(self._models.values())


def error_summary(exc: ValueError) -> str:
    """A one-line account of a pydantic validation error: ``field.path: message; ...``."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in errors())
    return str(exc)
