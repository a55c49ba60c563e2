"""Trial status, resources, decisions and the frozen snapshot that plugins receive."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class TrialStatus(str, enum.Enum):
    """Life cycle of a trial. A ``str`` enum so that ``status == "TERMINATED"`` works."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    def is_finished(self) -> bool:
        return self in (TrialStatus.TERMINATED, TrialStatus.ERROR)

    def __str__(self) -> str:
        return self.value


class Decision(str, enum.Enum):
    """What happens to a trial after a result: schedulers return it, executors deliver it to
    the trial. A ``str`` enum so that ``decision == "STOP"`` works."""

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"


@dataclass(frozen=True)
class Resources:
    """What one trial holds for its whole life."""

    cpu: float = 1.0
    gpu: float = 0.0
    custom: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value in (("cpu", self.cpu), ("gpu", self.gpu), *self.custom.items()):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"resource {name!r} is {value!r}, but must be a number >= 0")
        if self.gpu > 1 and self.gpu != int(self.gpu):
            raise ValueError(f"gpu is {self.gpu}, but fractions are only allowed below 1")

    @classmethod
    def coerce(cls, value: Any) -> Resources:
        """Accept a ``Resources``, ``None`` or a dict such as ``{"cpu": 2, "gpu": 1}``."""
        if value is None:
            return cls()
        if isinstance(value, Resources):
            return value
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items() if k != "custom_resources"}
            cpu = lowered.pop("cpu", 1)
            gpu = lowered.pop("gpu", 0)
            custom = {k: float(v) for k, v in lowered.items()}
            custom.update({k: float(v) for k, v in value.get("custom_resources", {}).items()})
            return cls(cpu=cpu, gpu=gpu, custom=custom)
        raise TypeError(
            f"resources is {value!r}, but must be a dict like {{'cpu': 1, 'gpu': 0}} "
            "or a tune.Resources"
        )

    def to_dict(self) -> dict[str, float]:
        return {"cpu": self.cpu, "gpu": self.gpu, **self.custom}


@dataclass(frozen=True, slots=True)
class FrozenTrial:
    """An immutable view of a trial, handed to searchers, schedulers and callbacks."""

    trial_id: str
    trial_name: str
    config: dict[str, Any]
    status: TrialStatus
    last_result: dict[str, Any]
    path: str
    resources: Resources
    num_failures: int = 0
    experiment_tag: str = ""
    trainable_name: str = ""
