"""``overtone.tune.trainable.trainable``: ``Trainable``, as Ray's module of the same name."""

from overtone.runtime import Trainable

__all__ = ["Trainable"]
