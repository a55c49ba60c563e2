"""A class trainable whose ``save_checkpoint`` returns a dict gets that dict back (issue 12)."""

from __future__ import annotations

from overtone import tune
from overtone.tune.schedulers import PopulationBasedTraining


class DictState(tune.Trainable):
    """Keeps its state only in the dict that save_checkpoint returns, as Ray's docs show."""

    def setup(self, config):
        self.score = 0.0
        self.restored_from = None

    def step(self):
        self.score += self.config["lr"]
        return {"score": self.score, "restored_from": self.restored_from}

    def save_checkpoint(self, checkpoint_dir):
        return {"score": self.score, "trial": self.trial_id}

    def load_checkpoint(self, checkpoint):
        # Ray hands back the very dict; a folder path here fails as in the report:
        # TypeError: string indices must be integers.
        self.score = checkpoint["score"]
        self.restored_from = checkpoint["trial"]


def test_pbt_exploits_a_trainable_with_dict_checkpoints(tmp_path, executor):
    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=2,
        hyperparam_mutations={"lr": [0.1, 1.0, 10.0]},
        quantile_fraction=0.5,
        synch=True,
    )
    grid = tune.Tuner(
        DictState,
        param_space={"lr": tune.grid_search([0.1, 10.0])},
        tune_config=tune.TuneConfig(scheduler=pbt, metric="score", mode="max", seed=1),
        run_config=tune.RunConfig(
            name="pbt_dict",
            storage_path=str(tmp_path),
            stop={"training_iteration": 6},
            checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2),
            executor=executor,
            verbose=0,
        ),
    ).fit()
    assert grid.num_errors == 0, [r.error for r in grid]
    low = next(r for r in grid if r.config["lr"] != 10.0 or r.metrics["restored_from"])
    # The weak trial cloned the strong one's state: its score continues from the donor's.
    donors = {r.metrics["trial_id"] for r in grid}
    assert low.metrics["restored_from"] in donors
    assert low.metrics["score"] > 6 * 0.1 + 1e-9


def test_standalone_save_and_restore_of_a_dict_checkpoint():
    first = DictState({"lr": 2.0})
    first.train()
    first.train()
    path = first.save()
    second = DictState({"lr": 2.0})
    second.restore(path)
    assert second.iteration == 2
    assert second.restored_from == "default"
    result = second.train()
    assert result["score"] == 6.0
    assert result["training_iteration"] == 3
    assert result["iterations_since_restore"] == 1
