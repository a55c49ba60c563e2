"""scikit-learn: TuneSearchCV with early stopping, a drop-in for RandomizedSearchCV.

An ``SGDClassifier`` in a ``Pipeline`` trains one epoch (``partial_fit``) per iteration; ASHA
stops the weak candidates after a few epochs, and the best one is refit on all the data.
The data are scikit-learn's bundled digits.

    python examples/frameworks/sklearn_tune_search_cv.py --smoke-test
"""

from __future__ import annotations

import argparse
import os

from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from overtone.tune.sklearn import TuneSearchCV


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-test", action="store_true")
    parser.add_argument("--storage-path", default=None)
    args = parser.parse_args(argv)
    smoke = args.smoke_test or os.environ.get("OVERTONE_SMOKE_TEST") == "1"
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    pipeline = Pipeline([("scale", StandardScaler()), ("sgd", SGDClassifier(random_state=0))])
    search = TuneSearchCV(
        pipeline,
        {
            "sgd__alpha": loguniform(1e-6, 1e-1),
            "sgd__penalty": ["l2", "l1", "elasticnet"],
            "sgd__loss": ["hinge", "log_loss", "modified_huber"],
        },
        n_trials=8 if smoke else 40,
        early_stopping=True,  # ASHA
        max_iters=6 if smoke else 30,
        cv=3,
        n_jobs=2,
        random_state=0,
        local_dir=args.storage_path,
        name="sgd_digits" if args.storage_path else None,
    )
    search.fit(x_train, y_train)
    epochs = search.cv_results_["training_iteration"]
    print(f"best parameters: {search.best_params_}")
    print(f"best cross-validated accuracy: {search.best_score_:.3f}")
    print(f"epochs per candidate: {[int(e) for e in epochs]} (of {search.max_iters})")
    print(f"test accuracy of the refit pipeline: {search.score(x_test, y_test):.3f}")
    return search


if __name__ == "__main__":
    main()
