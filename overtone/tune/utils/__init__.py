"""``overtone.tune.utils``: the helpers ``ray.tune.utils`` offers its users.

``wait_for_gpu`` (wait until a GPU's memory is free), ``validate_save_restore`` (check that a
``Trainable`` saves and restores), ``diagnose_serialization`` (find what makes a trainable
unpicklable) and the nested-dict helpers ``flatten_dict``, ``unflatten_dict``,
``merge_dicts`` and ``deep_update``.
"""

from __future__ import annotations

import copy
import inspect
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from typing import Any

__all__ = [
    "deep_update",
    "diagnose_serialization",
    "flatten_dict",
    "merge_dicts",
    "unflatten_dict",
    "validate_save_restore",
    "wait_for_gpu",
]


def flatten_dict(
    dt: Mapping[str, Any], delimiter: str = "/", prevent_delimiter: bool = False
) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}``.

    With ``prevent_delimiter``, a key that already holds ``delimiter`` is an error.
    """
    flat: dict[str, Any] = {}
    for key, value in dt.items():
        if prevent_delimiter and delimiter in str(key):
            raise ValueError(f"key {key!r} holds the delimiter {delimiter!r}, which is refused")
        if isinstance(value, Mapping) and value:
            for sub_key, sub_value in flatten_dict(value, delimiter, prevent_delimiter).items():
                flat[f"{key}{delimiter}{sub_key}"] = sub_value
        else:
            flat[key] = value
    return flat


def unflatten_dict(dt: Mapping[str, Any], delimiter: str = "/") -> dict[str, Any]:
    """``{"a/b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for key, value in dt.items():
        parts = str(key).split(delimiter)
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"key {key!r} nests under {part!r}, which holds a value")
            node = child
        node[parts[-1]] = value
    return out


def deep_update(
    original: dict[str, Any],
    new_dict: Mapping[str, Any],
    new_keys_allowed: bool = False,
    allow_new_subkey_list: list[str] | None = None,
    override_all_if_type_changes: list[str] | None = None,
) -> dict[str, Any]:
    """Update ``original`` in place with ``new_dict``, recursing into nested dicts.

    Args:
        new_keys_allowed: a key of ``new_dict`` missing from ``original`` is an error unless
            this is True.
        allow_new_subkey_list: keys under which new sub-keys are allowed anyway.
        override_all_if_type_changes: keys whose whole value is replaced when its ``type``
            entry changes.
    """
    allow_new_subkey_list = allow_new_subkey_list or []
    override_all_if_type_changes = override_all_if_type_changes or []
    for key, value in new_dict.items():
        if key not in original and not new_keys_allowed:
            raise ValueError(f"key {key!r} is not in the original dict, and new keys are refused")
        old = original.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            if (
                key in override_all_if_type_changes
                and "type" in value
                and value["type"] != old.get("type")
            ):
                original[key] = dict(value)
            else:
                deep_update(old, value, key in allow_new_subkey_list or new_keys_allowed)
        else:
            original[key] = value
    return original


def merge_dicts(original: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``original`` updated with ``overrides`` (new keys allowed)."""
    merged = copy.deepcopy(dict(original))
    deep_update(merged, overrides, new_keys_allowed=True)
    return merged


def _gpu_memory(gpu_id: str) -> tuple[float, float]:
    out = subprocess.run(
        [
            "nvidia-smi",
            "--query-gpu=memory.used,memory.total",
            "--format=csv,noheader,nounits",
            "-i",
            gpu_id,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    used, total = (float(x) for x in out.splitlines()[0].split(","))
    return used, total


def wait_for_gpu(
    gpu_id: int | str | None = None,
    target_util: float = 0.01,
    retry: int = 20,
    delay_s: float = 5,
    gpu_memory_limit: float | None = None,
) -> bool:
    """Wait until the trial's GPU has at most ``target_util`` of its memory in use.

    Useful at the start of a trial whose GPU a previous trial may still be freeing. The GPU
    is ``gpu_id`` (an index or UUID, as ``nvidia-smi -i`` takes), by default the first in the
    trial's ``CUDA_VISIBLE_DEVICES``. Returns True once it is free; raises ``RuntimeError``
    after ``retry`` checks ``delay_s`` apart, or when there is no GPU to check.
    """
    if gpu_memory_limit is not None:  # Ray's older name for the same threshold
        target_util = gpu_memory_limit
    if gpu_id is None:
        visible = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
        if not visible:
            raise RuntimeError(
                "wait_for_gpu() found no GPU: CUDA_VISIBLE_DEVICES is empty; give the trial "
                "a GPU (resources {'gpu': 1}) or pass gpu_id"
            )
        gpu_id = visible[0]
    if shutil.which("nvidia-smi") is None:
        raise RuntimeError("wait_for_gpu() needs nvidia-smi, which is not on PATH")
    util = 1.0
    for attempt in range(retry):
        used, total = _gpu_memory(str(gpu_id))
        util = used / total if total else 0.0
        if util <= target_util:
            return True
        if attempt < retry - 1:
            time.sleep(delay_s)
    raise RuntimeError(
        f"GPU {gpu_id} still has {util:.1%} of its memory in use after {retry} checks "
        f"{delay_s} s apart, but wait_for_gpu waits for at most {target_util:.1%}"
    )


def validate_save_restore(
    trainable_cls: type, config: dict[str, Any] | None = None, num_gpus: int = 0
) -> bool:
    """Check that ``trainable_cls`` saves and restores: one ``train()``, ``save()``, a new
    object ``restore()``s it and its next ``train()`` continues at the next iteration.

    Raises ``AssertionError`` naming what went wrong; returns True.
    """
    first = trainable_cls(config or {})
    second = trainable_cls(config or {})
    try:
        result = first.train()
        path = first.save()
        second.restore(path)
        after = second.train()
        expected = result["training_iteration"] + 1
        if after["training_iteration"] != expected:
            raise AssertionError(
                f"{trainable_cls.__name__} restored at iteration "
                f"{after['training_iteration'] - 1}, but was saved at "
                f"{result['training_iteration']}: save_checkpoint/load_checkpoint lose state"
            )
    finally:
        first.stop()
        second.stop()
    return True


def diagnose_serialization(trainable: Any) -> bool | set[str]:
    """Find what stops ``trainable`` from being pickled for the worker processes.

    Returns True when it pickles; otherwise prints, and returns, the names of the global and
    closure variables it uses that cannot be pickled.
    """
    import cloudpickle

    try:
        cloudpickle.dumps(trainable)
        return True
    except Exception:  # noqa: BLE001 - any failure means the same here
        pass
    target = trainable
    if inspect.isclass(trainable):
        members = [
            m for m in vars(trainable).values() if inspect.isfunction(m) or inspect.ismethod(m)
        ]
    else:
        members = [target]
    failing: set[str] = set()
    for member in members:
        try:
            found = inspect.getclosurevars(member)
        except TypeError:
            continue
        for name, value in {**found.globals, **found.nonlocals}.items():
            if inspect.ismodule(value):
                continue
            try:
                cloudpickle.dumps(value)
            except Exception:  # noqa: BLE001
                failing.add(name)
    name = getattr(trainable, "__name__", repr(trainable))
    if failing:
        print(f"{name} cannot be pickled; these variables it uses cannot be: {sorted(failing)}")
    else:
        print(f"{name} cannot be pickled, but no single variable it uses is the cause")
    return failing
