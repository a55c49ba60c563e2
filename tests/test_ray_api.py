"""Every public name of Ray Tune 2.x imports from the mirrored Overtone path (issue 12).

The names are data, listed from Ray's API reference in ``tests/data/ray_tune_api.txt``;
Ray itself is never imported.
"""

from __future__ import annotations

import importlib
import os
import re

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data", "ray_tune_api.txt")


def _parse() -> dict[str, list[tuple[str, str, str]]]:
    """Sections -> (ray module, name, reason) entries."""
    sections: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    with open(DATA) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            header = re.fullmatch(r"\[(.+)\]", line)
            if header:
                current = header.group(1)
                sections[current] = []
                continue
            assert current is not None, f"{line!r} comes before any section"
            body, _, reason = line.partition(" -- ")
            module, _, names = body.partition(":")
            for name in names.split():
                sections[current].append((module.strip(), name, reason.strip()))
    return sections


SECTIONS = _parse()


def mirrored_path(ray_module: str) -> str:
    if ray_module == "ray.train" or ray_module.startswith("ray.train."):
        return "overtone" + ray_module[len("ray") :]
    assert ray_module == "ray.tune" or ray_module.startswith("ray.tune."), ray_module
    return "overtone" + ray_module[len("ray") :]


def _id(entry: tuple[str, str, str]) -> str:
    return f"{entry[0]}.{entry[1]}"


def test_the_list_is_sizeable_and_the_skips_are_few():
    assert len(SECTIONS["mirrored"]) >= 200
    assert len(SECTIONS["not mirrored"]) < len(SECTIONS["mirrored"]) // 8
    for module, name, reason in SECTIONS["not mirrored"]:
        assert len(reason) > 20, f"{module}.{name} is skipped without a reason"


@pytest.mark.parametrize("entry", SECTIONS["mirrored"], ids=_id)
def test_name_imports_from_the_mirrored_path(entry):
    module_name, name, _ = entry
    module = importlib.import_module(mirrored_path(module_name))
    assert module.__doc__, f"{module.__name__} has no docstring"
    value = getattr(module, name)
    assert value is not None
    assert name in getattr(module, "__all__", dir(module)), f"{name} not in {module.__name__}"


@pytest.mark.parametrize("entry", SECTIONS["not mirrored"], ids=_id)
def test_deliberately_unmirrored_names_are_absent(entry):
    """A name listed as not mirrored must not quietly exist: the list stays honest."""
    module_name, name, _ = entry
    if not module_name.startswith(("ray.tune", "ray.train")):
        return  # ray.air: outside the mirrored tree altogether
    try:
        module = importlib.import_module(mirrored_path(module_name))
    except ModuleNotFoundError:
        return
    assert not hasattr(module, name), f"{module_name}.{name} is mirrored: move it in the list"


def test_same_objects_in_tune_and_train():
    from overtone import train, tune

    for name in ("report", "get_checkpoint", "get_context", "Checkpoint", "RunConfig"):
        assert getattr(train, name) is getattr(tune, name), name
    for name in ("CheckpointConfig", "FailureConfig", "SyncConfig", "Result"):
        assert getattr(train, name) is getattr(tune, name), name


def test_result_constants_have_ray_values():
    from overtone.tune import result

    assert result.SHOULD_CHECKPOINT == "should_checkpoint"
    assert result.TRAINING_ITERATION == "training_iteration"
    assert result.DONE == "done"
    assert result.TIME_TOTAL_S == "time_total_s"
    assert result.EPISODE_REWARD_MEAN == "episode_reward_mean"
    assert result.DEFAULT_METRIC == "_metric"
