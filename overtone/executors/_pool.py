"""Resource accounting shared by the executors: what one machine (or Dask worker) has free.

CPUs and custom resources are amounts. GPUs are devices: a trial asking for a fraction shares
the fullest device that still has room, and one asking for ``n >= 1`` gets ``n`` whole ones.
"""

from __future__ import annotations

from overtone._trial import Resources

EPS = 1e-9


class ResourcePool:
    """The resources of one machine, and what trials hold of them.

    Args:
        cpu: CPUs to hand out.
        gpus: GPU devices, numbered 0 to ``gpus - 1``.
        custom: custom resources, e.g. ``{"license": 2}``.
        slots: at most this many trials at once (a Dask worker's threads); None: no limit.
    """

    def __init__(
        self, cpu: float, gpus: int, custom: dict[str, float], slots: int | None = None
    ) -> None:
        self.total: dict[str, float] = {"cpu": float(cpu), "gpu": float(gpus), **custom}
        self.free: dict[str, float] = dict(self.total)
        self.gpu_free = [1.0] * gpus
        self.slots_free = slots

    def could_ever_fit(self, res: Resources) -> bool:
        """Whether a trial asking for ``res`` fits here when nothing else runs."""
        return (
            res.cpu <= self.total["cpu"] + EPS
            and res.gpu <= self.total["gpu"] + EPS
            and all(v <= self.total.get(k, 0.0) + EPS for k, v in res.custom.items())
        )

    def fit(self, res: Resources) -> tuple[int, ...] | None:
        """The GPU devices a trial asking for ``res`` would get now, or None if it does not
        fit now."""
        if self.slots_free is not None and self.slots_free < 1:
            return None
        if res.cpu > self.free["cpu"] + EPS:
            return None
        if any(v > self.free.get(k, 0.0) + EPS for k, v in res.custom.items()):
            return None
        if res.gpu <= 0:
            return ()
        if res.gpu < 1:  # a fraction: share the fullest device that still has room
            fits = [g for g, f in enumerate(self.gpu_free) if f + EPS >= res.gpu]
            return (min(fits, key=lambda g: self.gpu_free[g]),) if fits else None
        whole = [g for g, f in enumerate(self.gpu_free) if f >= 1 - EPS]
        return tuple(whole[: int(res.gpu)]) if len(whole) >= res.gpu else None

    def take(self, res: Resources, gpus: tuple[int, ...]) -> None:
        """A trial holds ``res`` (and the devices ``fit`` gave it) from now on."""
        self._add(res, gpus, -1.0)

    def give_back(self, res: Resources, gpus: tuple[int, ...]) -> None:
        """The trial that held ``res`` on ``gpus`` ended (or paused)."""
        self._add(res, gpus, +1.0)

    def _add(self, res: Resources, gpus: tuple[int, ...], sign: float) -> None:
        if self.slots_free is not None:
            self.slots_free += int(sign)
        self.free["cpu"] += sign * res.cpu
        for k, v in res.custom.items():
            self.free[k] = self.free.get(k, 0.0) + sign * v
        share = res.gpu if res.gpu < 1 else 1.0
        for g in gpus:
            self.gpu_free[g] += sign * share
        self.free["gpu"] = sum(self.gpu_free)
