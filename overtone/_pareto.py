"""Pareto fronts for several objectives: non-dominated sorting, tie-breaks and hypervolume.

Every function here takes points to **minimize**, an ``(n, d)`` array; :func:`to_minimize`
turns results with ``metric``/``mode`` lists into such points. The multi-objective schedulers
(ASHA and HyperBand given a list of metrics, MO-ASHA in Schmucker et al., "Multi-objective
Asynchronous Successive Halving", 2021) rank trials with :func:`pareto_order`: by front, then,
inside a front, by an ε-net (the point farthest from those already taken goes first) or by
crowding distance (NSGA-II's).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from overtone._checks import check_objectives
from overtone._dicts import lookup

TIE_BREAKS = ("eps_net", "crowding")

__all__ = [
    "TIE_BREAKS",
    "check_objectives",
    "crowding_distance",
    "eps_net_order",
    "hypervolume",
    "non_dominated_sort",
    "pareto_mask",
    "pareto_order",
    "to_minimize",
]


def to_minimize(
    result: dict[str, Any], metrics: Sequence[str], modes: Sequence[str]
) -> tuple[float, ...] | None:
    """The result's objectives as a point to minimize (``max`` ones negated); NaN becomes
    +inf (the worst); None when one of them is missing or no number."""
    point = []
    for metric, mode in zip(metrics, modes):
        value = lookup(result, metric)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return None
        try:
            x = float(value)
        except (OverflowError, ValueError):
            x = math.inf if value > 0 else -math.inf
        if x != x:
            x = math.inf
        elif mode == "max":
            x = -x
        point.append(x)
    return tuple(point)


def dominance(points: np.ndarray) -> np.ndarray:
    """``D[i, j]`` is True when point ``i`` dominates point ``j`` (no worse in every
    objective, better in one)."""
    le = np.all(points[:, None, :] <= points[None, :, :], axis=2)
    lt = np.any(points[:, None, :] < points[None, :, :], axis=2)
    return le & lt


def non_dominated_sort(points: Any) -> list[np.ndarray]:
    """The fronts of ``points`` (to minimize), best first, as arrays of indices."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    if n == 0:
        return []
    dom = dominance(pts)
    count = dom.sum(axis=0)  # how many points dominate each one
    left = np.ones(n, dtype=bool)
    fronts = []
    while left.any():
        front = np.flatnonzero(left & (count == 0))
        fronts.append(front)
        left[front] = False
        count = count - dom[front].sum(axis=0)
    return fronts


def pareto_mask(points: Any) -> np.ndarray:
    """True for the points (to minimize) that no other point dominates."""
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return ~dominance(pts).any(axis=0)


def _normalized(points: np.ndarray) -> np.ndarray:
    finite = np.where(np.isfinite(points), points, np.nan)
    lo = np.nanmin(finite, axis=0) if np.isfinite(finite).any() else np.zeros(points.shape[1])
    hi = np.nanmax(finite, axis=0) if np.isfinite(finite).any() else np.ones(points.shape[1])
    lo = np.nan_to_num(lo)
    hi = np.nan_to_num(hi)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = (np.clip(np.nan_to_num(points, posinf=1e300, neginf=-1e300), lo, hi) - lo) / span
    return scaled


def crowding_distance(points: Any) -> np.ndarray:
    """NSGA-II's crowding distance of each point in a front: boundary points get +inf."""
    pts = np.asarray(points, dtype=float)
    n, d = pts.shape if pts.ndim == 2 else (len(pts), 0)
    distance = np.zeros(n)
    if n <= 2:
        distance[:] = math.inf
        return distance
    scaled = _normalized(pts)
    for k in range(d):
        order = np.argsort(scaled[:, k], kind="stable")
        distance[order[0]] = distance[order[-1]] = math.inf
        gaps = scaled[order[2:], k] - scaled[order[:-2], k]
        distance[order[1:-1]] += gaps
    return distance


def eps_net_order(points: Any) -> np.ndarray:
    """An ε-net ordering of a front: first the point with the smallest sum of normalized
    objectives, then, each time, the point farthest from all those already taken."""
    pts = np.asarray(points, dtype=float)
    n = len(pts)
    if n <= 1:
        return np.arange(n)
    scaled = _normalized(pts)
    first = int(np.argmin(scaled.sum(axis=1)))
    order = [first]
    nearest = np.linalg.norm(scaled - scaled[first], axis=1)
    nearest[first] = -1.0
    for _ in range(n - 1):
        nxt = int(np.argmax(nearest))
        order.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(scaled - scaled[nxt], axis=1))
        nearest[order] = -1.0
    return np.asarray(order)


def pareto_order(points: Any, tie_break: str = "eps_net") -> np.ndarray:
    """The indices of ``points`` (to minimize), best first: by non-dominated front, then by
    ``tie_break`` inside a front (``"eps_net"`` or ``"crowding"``)."""
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break is {tie_break!r}, but must be one of {TIE_BREAKS}")
    pts = np.asarray(points, dtype=float)
    out: list[int] = []
    for front in non_dominated_sort(pts):
        if len(front) == 1:
            out.append(int(front[0]))
            continue
        if tie_break == "eps_net":
            inner = eps_net_order(pts[front])
        else:
            # Most isolated first; ties keep the original order (stable sort).
            inner = np.argsort(-crowding_distance(pts[front]), kind="stable")
        out.extend(int(i) for i in front[inner])
    return np.asarray(out, dtype=int)


def hypervolume(points: Any, reference: Sequence[float]) -> float:
    """The volume that ``points`` (to minimize) dominate up to ``reference``.

    Points that do not dominate the reference count for nothing. Exact: a sweep for two
    objectives, slicing along the last objective for more.
    """
    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(points, dtype=float).reshape(-1, len(ref))
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[pareto_mask(pts)]
    return float(_hv(pts, ref))


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    d = pts.shape[1]
    if d == 1:
        return float(ref[0] - pts[:, 0].min())
    if d == 2:
        order = np.argsort(pts[:, 0], kind="stable")
        volume, best_y = 0.0, ref[1]
        for x, y in pts[order]:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    order = np.argsort(pts[:, -1], kind="stable")
    pts = pts[order]
    volume = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        depth = upper - pts[i, -1]
        if depth <= 0:
            continue
        layer = pts[: i + 1, :-1]
        layer = layer[pareto_mask(layer)]
        volume += depth * _hv(layer, ref[:-1])
    return volume
