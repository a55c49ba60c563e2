"""scikit-learn search estimators that run an Overtone experiment (tune-sklearn's API).

``TuneSearchCV`` and ``TuneGridSearchCV`` replace ``RandomizedSearchCV`` and
``GridSearchCV``: each candidate is a trial, ``n_jobs`` trials run at once in worker processes,
and estimators that train incrementally (``partial_fit``, or ``warm_start``) can be stopped
early by ASHA. Example::

    from overtone.tune.sklearn import TuneSearchCV
    from scipy.stats import loguniform

    search = TuneSearchCV(SGDClassifier(), {"alpha": loguniform(1e-5, 1e-1)}, n_trials=20,
                          early_stopping=True, max_iters=10, n_jobs=2, random_state=0)
    search.fit(X, y)
    print(search.best_params_, search.best_score_)
"""

from __future__ import annotations

from overtone.tune.sklearn._search import TuneGridSearchCV, TuneSearchCV

__all__ = ["TuneGridSearchCV", "TuneSearchCV"]
