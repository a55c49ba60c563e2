"""``overtone.tune.registry``: trainables by name, as ``ray.tune.registry`` has them.

``tune.register_trainable("my_trainable", train)`` lets ``tune.run("my_trainable")`` and
``tune.Tuner("my_trainable")`` name it. The registry lives in the driver: the trainable
itself is sent to the workers.
"""

from __future__ import annotations

from overtone._classic import get_trainable, register_trainable

__all__ = ["get_trainable", "register_trainable"]
