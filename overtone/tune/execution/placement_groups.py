"""``overtone.tune.execution.placement_groups``: Ray's ``PlacementGroupFactory``.

Ray reserves a trial's resources as a placement group: a list of bundles (the first for the
trainable, the others for the workers it starts) placed with a strategy. Overtone runs a
trial as one process holding its resources, so a factory is mapped onto ``tune.Resources``:
CPUs, GPUs and custom resources summed over the bundles. What has no such meaning is refused
with an error: Ray's ``memory`` and ``object_store_memory`` (Overtone does not account memory)
and ``STRICT_SPREAD`` over several bundles (one process cannot span machines).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overtone._trial import Resources

_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")
_UNMAPPED = ("memory", "object_store_memory")


class PlacementGroupFactory:
    """A trial's resources as Ray's bundles, accepted wherever resources are.

    Example::

        tune.with_resources(train, tune.PlacementGroupFactory([{"CPU": 1, "GPU": 1}, {"CPU": 2}]))
        # runs each trial with Resources(cpu=3, gpu=1)
    """

    def __init__(
        self,
        bundles: list[Mapping[str, float]],
        strategy: str = "PACK",
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if not isinstance(bundles, (list, tuple)) or not bundles:
            raise ValueError(f"bundles is {bundles!r}, but must be a non-empty list of dicts")
        for bundle in bundles:
            if not isinstance(bundle, Mapping):
                raise ValueError(f"bundle {bundle!r} is not a dict like {{'CPU': 1}}")
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy is {strategy!r}, but must be one of {_STRATEGIES}")
        self._bundles = [dict(b) for b in bundles]
        self._strategy = strategy
        self._resources = self._map()

    @property
    def bundles(self) -> list[dict[str, float]]:
        return [dict(b) for b in self._bundles]

    @property
    def strategy(self) -> str:
        return self._strategy

    @property
    def head_bundle_is_empty(self) -> bool:
        return not any(self._bundles[0].values())

    @property
    def head_cpus(self) -> float:
        return float(self._bundles[0].get("CPU", 0))

    @property
    def required_resources(self) -> dict[str, float]:
        """Every resource summed over the bundles, under Ray's names (``CPU``, ``GPU``)."""
        total: dict[str, float] = {}
        for bundle in self._bundles:
            for key, value in bundle.items():
                total[key] = total.get(key, 0.0) + float(value)
        return total

    def to_resources(self) -> Resources:
        """The ``Resources`` a trial of Overtone holds for this factory."""
        return self._resources

    def _map(self) -> Resources:
        total = self.required_resources
        unmapped = [k for k in total if k.lower() in _UNMAPPED and total[k]]
        if unmapped:
            raise ValueError(
                f"PlacementGroupFactory asks for {unmapped}, but Overtone does not account "
                "memory: leave it out (a trial may use the memory of its machine)"
            )
        if self._strategy == "STRICT_SPREAD" and len(self._bundles) > 1:
            raise ValueError(
                "PlacementGroupFactory has strategy STRICT_SPREAD over "
                f"{len(self._bundles)} bundles, but an Overtone trial is one process on one "
                "machine: use PACK (the bundles' resources are summed)"
            )
        cpu = gpu = 0.0
        custom: dict[str, float] = {}
        for key, value in total.items():
            if key.upper() == "CPU":
                cpu += value
            elif key.upper() == "GPU":
                gpu += value
            elif key.lower() not in _UNMAPPED:
                custom[key] = value
        return Resources(cpu=cpu, gpu=gpu, custom=custom)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PlacementGroupFactory)
            and other._bundles == self._bundles
            and other._strategy == self._strategy
        )

    def __hash__(self) -> int:
        return hash((repr(self._bundles), self._strategy))

    def __repr__(self) -> str:
        return f"PlacementGroupFactory({self._bundles!r}, strategy={self._strategy!r})"


__all__ = ["PlacementGroupFactory"]
