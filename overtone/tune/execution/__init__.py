"""``overtone.tune.execution``: the parts of ``ray.tune.execution`` that users import."""
