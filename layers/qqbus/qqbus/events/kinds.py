"""A protocol's models split into modules by kind, each imported when one of its names is asked for.

``qqbus.events.qq`` and ``qqbus.events.onebot`` name every model of their protocol, but a
function that handles one event type builds only the module of its kind (a pydantic class costs
a fraction of a millisecond to create; cold starts add them up). ``Kinds`` is that lookup, for a
facade module's ``__getattr__``; its registry is complete only once every kind is imported
(``load_all``), which is what choosing among all models (parsing) needs.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from qqbus.events.registry import ModelRegistry

M = TypeVar("M", bound=BaseModel)


class Kinds(Generic[M]):
    """The modules of ``package``'s models, by the names each defines, and their registry."""

    def __init__(
        self,
        package: str,
        kinds: dict[str, tuple[str, ...]],
        registry: ModelRegistry[M],
        registry_name: str,
    ) -> None:
        self._package = package
        self._kinds = kinds
        self._home = {name: module for module, names in kinds.items() for name in names}
        self._registry = registry
        self._registry_name = registry_name

    @property
    def names(self) -> list[str]:
        """Every name the kinds define, and the registry's."""
        return [*self._home, self._registry_name]

    @functools.cached_property
    def _loaded(self) -> ModelRegistry[M]:
        for module in self._kinds:
            importlib.import_module(f"{self._package}.{module}")
        return self._registry

    def load_all(self) -> ModelRegistry[M]:
        """The registry, with every kind imported (so each model is registered in it)."""
        return self._loaded

    def attribute(self, facade: str, name: str) -> Any:
        """What the facade module ``facade`` answers for ``name`` (its ``__getattr__``)."""
        if name in self._home:
            return getattr(importlib.import_module(f"{self._package}.{self._home[name]}"), name)
        if name == self._registry_name:  # complete only with every kind imported
            return self.load_all()
        raise AttributeError(f"module {facade!r} has no attribute {name!r}")
