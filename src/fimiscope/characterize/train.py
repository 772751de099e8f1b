"""``train_bot_model``: fit an automation model on a user's labelled accounts of a store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fimiscope.characterize.automation import fit_bot_model, read_labels, save_bot_model
from fimiscope.characterize.features import compute_features, feature_matrix
from fimiscope.errors import ConfigError
from fimiscope.store import Store


@dataclass(frozen=True)
class TrainResult:
    """Where the model went, its cross-validated figures, and labels not found in the store."""

    path: Path
    cv: dict[str, Any]
    missing: int
    run_id: str


def train_bot_model(
    store: Store,
    labels: str | Path,
    out: str | Path,
    *,
    estimator: str = "logistic",
    folds: int = 5,
    seed: int = 0,
    coordination_run: str | None = None,
    min_per_class: int = 5,
) -> TrainResult:
    """Fit a bot model on ``labels`` (CSV ``platform,account_id,label``) and save it to ``out``.

    Features are computed from the store exactly as ``characterize`` computes them. The run
    (stage ``train-bot-model``) records the label file, estimator, folds, seed and CV figures.

    Raises
    ------
    LabelFileError
        The label file is malformed (see :func:`~fimiscope.characterize.automation.read_labels`).
    ConfigError
        Too few labelled accounts of a class are present in the store.
    """
    lab = read_labels(labels, min_per_class=min_per_class)
    if coordination_run is None:
        coordination_run = store.latest_run("detect")
    run_id = store.start_run(
        "train-bot-model",
        {
            "labels": str(labels),
            "estimator": estimator,
            "folds": folds,
            "coordination_run": coordination_run,
            "out": str(out),
        },
        seed=seed,
        input_digest=store.source_digest(),
    )
    try:
        compute_features(store.con, coordination_run)
        keys, x = feature_matrix(store.con)
        pos = {k: i for i, k in enumerate(keys)}
        sel = [(pos[k], y) for k, y in lab.items() if k in pos]
        missing = len(lab) - len(sel)
        y = np.array([s[1] for s in sel], dtype=int)
        if len(sel) == 0 or min(y.sum(), len(y) - y.sum()) < min_per_class:
            raise ConfigError(
                "labels",
                "train_bot_model",
                f"at least {min_per_class} labelled accounts of each"
                f" class with actions in the store",
                f"{int(y.sum())} bot and {int(len(y) - y.sum())} human"
                f" found ({missing} not in the store)",
            )
        model = fit_bot_model(
            x[[s[0] for s in sel]],
            y,
            estimator=estimator,
            folds=folds,
            seed=seed,
            name=Path(out).stem,
        )
        path = save_bot_model(model, out)
    except BaseException as exc:
        store.finish_run(run_id, status="failed", message=str(exc)[:500])
        raise
    store.finish_run(run_id, message=f"ROC AUC {model.cv['roc_auc']:.3f} over {len(y)} accounts")
    return TrainResult(path=Path(path), cv=model.cv, missing=missing, run_id=run_id)
