"""``overtone.tune.utils.mock_trainable``: ``MyTrainableClass``, the toy trainable that Ray
Tune's examples use.

Its ``episode_reward_mean`` follows ``height * tanh(iteration / width)``: it rises fast for a
small ``width`` and levels off at ``height`` (both from the config, default 1), so schedulers
have something to compare. It checkpoints its step counter.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from overtone.runtime import Trainable


class MyTrainableClass(Trainable):
    """A trainable whose reward curve is set by ``width`` and ``height`` in its config."""

    def setup(self, config: dict[str, Any]) -> None:
        self.timestep = 0

    def step(self) -> dict[str, Any]:
        self.timestep += 1
        width = float(self.config.get("width", 1))
        height = float(self.config.get("height", 1))
        reward = height * math.tanh(self.timestep / width)
        return {"episode_reward_mean": reward}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        with open(os.path.join(checkpoint_dir, "state.json"), "w") as f:
            json.dump({"timestep": self.timestep}, f)

    def load_checkpoint(self, checkpoint: Any) -> None:
        with open(os.path.join(checkpoint, "state.json")) as f:
            self.timestep = json.load(f)["timestep"]


__all__ = ["MyTrainableClass"]
