"""The automation score: a transparent heuristic, or a model trained on a user's labels.

The heuristic is a log-odds sum of robust-standardised features with fixed, documented
weights (:data:`HEURISTIC_WEIGHTS`); each term is stored as that feature's contribution. It is
an indicator for a person to read, never a verdict. With labelled accounts,
:func:`train_bot_model` fits a scikit-learn model with stratified cross-validation and saves it
with its feature list and version; :func:`load_bot_model` refuses a model whose feature list
differs from :data:`fimiscope.characterize.features.FEATURES`.

References
----------
.. [1] Varol, O., et al. (2017). Online human-bot interactions: detection, estimation, and
   characterization. *ICWSM*.
.. [2] Yang, K.-C., et al. (2020). Scalable and generalizable social bot detection through
   data selection. *AAAI*.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from fimiscope.characterize.features import FEATURES
from fimiscope.errors import ConfigError, FimiscopeError, MissingDependencyError

HEURISTIC_VERSION = "heuristic-v1"
MODEL_FORMAT = "fimiscope-bot-model"
MODEL_VERSION = 1

# feature -> (weight, direction, transform). direction +1: high values look automated.
# transform: "z" robust z-score clipped to [-3, 3]; "raw" value as is (shares, booleans).
HEURISTIC_WEIGHTS: dict[str, tuple[float, int, str]] = {
    "rate_per_day": (0.5, +1, "zlog"),
    "burstiness": (0.2, +1, "z"),
    "iet_entropy": (0.3, -1, "z"),
    "repost_share": (0.4, +1, "z"),
    "dup_text_share": (1.5, +1, "raw"),
    "hour_entropy": (0.3, -1, "z"),
    "age_days": (0.6, -1, "zlog"),
    "creation_burst_share": (3.0, +1, "raw"),
    "handle_digit_tail": (0.0, +1, "raw"),  # reported; its signal is in default_handle
    "default_handle": (1.5, +1, "raw"),
    "default_profile": (1.0, +1, "raw"),
    "follower_ratio_log10": (0.6, -1, "z"),
    "third_party_client_share": (1.0, +1, "raw"),
}
HEURISTIC_INTERCEPT = -4.0

INNOCENT: dict[str, str] = {
    "rate_per_day": "a very active person, a news or community account",
    "burstiness": "live-posting during an event",
    "iet_entropy": "a person with a fixed routine (commute, lunch break)",
    "repost_share": "a reader who mostly shares rather than writes",
    "dup_text_share": "a shared slogan, quote or hashtag campaign text",
    "hour_entropy": "a shift worker's rhythm or a person who posts only at one time of day",
    "age_days": "a new user who just joined (e.g. for the election)",
    "creation_burst_share": "people who joined together (a migration to"
    " the platform, a sign-up drive)",
    "handle_digit_tail": "a user who kept the name the platform suggested",
    "default_handle": "a user who kept the name the platform suggested",
    "default_profile": "a privacy-minded or casual user",
    "follower_ratio_log10": "a new or lurking user who follows many and is followed by few",
    "third_party_client_share": "a newsroom's or organisation's scheduler",
}


def _robust_z(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return np.zeros_like(x)
    med = np.median(x[ok])
    mad = 1.4826 * np.median(np.abs(x[ok] - med))
    if mad <= 0:
        mad = float(np.std(x[ok])) or 1.0
    z = np.clip((x - med) / mad, -3.0, 3.0)
    return np.where(ok, z, 0.0)


def heuristic_contributions(x: np.ndarray) -> np.ndarray:
    """Per-feature log-odds contributions of the heuristic score (rows: accounts).

    Standardisation is relative to the accounts of the run (median and MAD), so a feature
    contributes by how unusual the account is in this data set. Missing values contribute 0.

    Examples
    --------
    >>> x = np.full((3, len(FEATURES)), np.nan)
    >>> x[:, FEATURES.index("default_handle")] = [1.0, 0.0, 0.0]
    >>> heuristic_contributions(x)[:, FEATURES.index("default_handle")].tolist()
    [1.5, 0.0, 0.0]
    """
    out = np.zeros_like(x, dtype=float)
    for j, name in enumerate(FEATURES):
        w, sign, how = HEURISTIC_WEIGHTS[name]
        col = x[:, j]
        if how == "raw":
            v = np.where(np.isfinite(col), col, 0.0)
        elif how == "zlog":
            v = _robust_z(np.log10(np.where(col >= 0, col, np.nan) + 1.0))
        else:
            v = _robust_z(col)
        out[:, j] = w * sign * v
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def heuristic_score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores in [0, 1], contributions) of the heuristic for a feature matrix."""
    c = heuristic_contributions(x)
    return _sigmoid(HEURISTIC_INTERCEPT + c.sum(axis=1)), c


def explain(contrib: dict[str, float], k: int = 3) -> str:
    """The ``k`` strongest positive contributions in words, with their innocent explanations."""
    top = sorted(((v, f) for f, v in contrib.items() if v > 0.05), reverse=True)[:k]
    if not top:
        return "No feature stands out from the other accounts."
    parts = [f"{f} (+{v:.2f}; could also be {INNOCENT[f]})" for v, f in top]
    return "Strongest signals: " + "; ".join(parts) + "."


# -- labels --------------------------------------------------------------------------------
class LabelFileError(FimiscopeError, ValueError):
    """A label file cannot be used; the message says which file, line and why."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


_LABELS = {"bot": 1, "1": 1, "human": 0, "0": 0}


def read_labels(path: Path | str, *, min_per_class: int = 5) -> dict[tuple[str, str], int]:
    """Read a label file: CSV with header ``platform,account_id,label`` (bot/human or 1/0).

    Raises
    ------
    LabelFileError
        Missing file or columns, an empty value, an unknown label, a duplicate account, or
        fewer than ``min_per_class`` accounts of a class.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "l.csv")
    >>> _ = open(p, "w").write("platform,account_id,label\\nx,1,bot\\nx,2,human\\n")
    >>> read_labels(p, min_per_class=1)
    {('x', '1'): 1, ('x', '2'): 0}
    """
    p = Path(path)
    if not p.is_file():
        raise LabelFileError(p, "no such file")
    out: dict[tuple[str, str], int] = {}
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        need = ("platform", "account_id", "label")
        have = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in need if c not in have]
        if missing:
            raise LabelFileError(
                p,
                f"missing column(s) {', '.join(missing)}; the header must be "
                "`platform,account_id,label`",
            )
        reader.fieldnames = have
        for line, row in enumerate(reader, start=2):
            plat, acc = (row.get("platform") or "").strip(), (row.get("account_id") or "").strip()
            lab = (row.get("label") or "").strip().lower()
            if not plat or not acc:
                raise LabelFileError(p, f"line {line}: empty platform or account_id")
            if lab not in _LABELS:
                raise LabelFileError(p, f"line {line}: unknown label {lab!r}; use bot/human or 1/0")
            if (plat, acc) in out:
                raise LabelFileError(p, f"line {line}: duplicate account {plat}:{acc}")
            out[(plat, acc)] = _LABELS[lab]
    n_bot = sum(out.values())
    n_hum = len(out) - n_bot
    if min(n_bot, n_hum) < min_per_class:
        raise LabelFileError(
            p,
            f"too few labelled accounts of a class: {n_bot} bot, {n_hum} human; "
            f"at least {min_per_class} of each are needed for cross-validation",
        )
    return out


# -- models --------------------------------------------------------------------------------
@dataclass
class BotModel:
    """A fitted automation model with what is needed to apply and audit it."""

    name: str
    estimator_kind: str
    estimator: Any
    features: tuple[str, ...]
    version: int = MODEL_VERSION
    cv: dict[str, Any] = field(default_factory=dict)
    trained_at: str = ""
    sklearn_version: str = ""

    @property
    def method(self) -> str:
        return f"model:{self.name}@{self.version}"

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (scores, log-odds contributions or None for tree models)."""
        proba = self.estimator.predict_proba(x)[:, 1]
        if self.estimator_kind != "logistic":
            return proba, None
        imp, scale, lr = (self.estimator.named_steps[k] for k in ("impute", "scale", "model"))
        z = scale.transform(imp.transform(x))
        return proba, z * lr.coef_[0]


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise MissingDependencyError("scikit-learn", "bot") from exc
    return sklearn


def _estimator(kind: str, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        return Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(max_iter=2000, class_weight="balanced")),
            ]
        )
    if kind == "gbm":
        return HistGradientBoostingClassifier(random_state=seed, class_weight="balanced")
    raise ConfigError("estimator", "train_bot_model", "'logistic' or 'gbm'", kind)


def fit_bot_model(
    x: np.ndarray,
    y: np.ndarray,
    *,
    estimator: str = "logistic",
    folds: int = 5,
    seed: int = 0,
    name: str = "bot-model",
) -> BotModel:
    """Fit a model with stratified ``folds``-fold cross-validation and return it with CV figures.

    The reported figures (ROC AUC, average precision, precision and recall at 0.5) come from
    out-of-fold predictions; the saved model is then refitted on all labelled accounts.
    """
    sk = _sklearn()
    from sklearn.metrics import (
        average_precision_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if not isinstance(folds, int) or folds < 2:
        raise ConfigError("folds", "train_bot_model", "an integer >= 2", folds)
    minority = int(min(y.sum(), len(y) - y.sum()))
    k = min(folds, minority)
    if k < 2:
        raise ConfigError(
            "labels", "train_bot_model", "at least 2 accounts of each class", minority
        )
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    proba = cross_val_predict(_estimator(estimator, seed), x, y, cv=cv, method="predict_proba")[
        :, 1
    ]
    pred = proba >= 0.5
    report = {
        "folds": k,
        "n": len(y),
        "n_bot": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, proba)),
        "average_precision": float(average_precision_score(y, proba)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
    }
    est = _estimator(estimator, seed).fit(x, y)
    return BotModel(
        name=name,
        estimator_kind=estimator,
        estimator=est,
        features=FEATURES,
        cv=report,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        sklearn_version=sk.__version__,
    )


def save_bot_model(model: BotModel, path: Path | str) -> Path:
    """Save with joblib: a dict with format, version, feature list, CV figures and estimator."""
    import joblib

    p = Path(path)
    joblib.dump(
        {
            "format": MODEL_FORMAT,
            "version": model.version,
            "name": model.name,
            "estimator_kind": model.estimator_kind,
            "features": list(model.features),
            "cv": model.cv,
            "trained_at": model.trained_at,
            "sklearn_version": model.sklearn_version,
            "estimator": model.estimator,
        },
        p,
    )
    return p


def load_bot_model(path: Path | str) -> BotModel:
    """Load a model saved by :func:`save_bot_model`.

    Only load model files you trust: joblib files can run code when loaded.

    Raises
    ------
    ConfigError
        The file is not a fimiscope bot model, has an unknown version, or its feature list
        differs from the features this fimiscope computes.
    """
    import joblib

    p = Path(path)
    try:
        d = joblib.load(p)
    except Exception as exc:
        raise ConfigError(
            "model", "characterize", "a model file written by train-bot-model", str(p)
        ) from exc
    if not isinstance(d, dict) or d.get("format") != MODEL_FORMAT:
        raise ConfigError(
            "model", "characterize", "a model file written by train-bot-model", str(p)
        )
    if d.get("version") != MODEL_VERSION:
        raise ConfigError(
            "model", "characterize", f"a model of version {MODEL_VERSION}", d.get("version")
        )
    if tuple(d.get("features", ())) != FEATURES:
        raise ConfigError(
            "model",
            "characterize",
            f"a model over the features {', '.join(FEATURES)}",
            f"{p} with features {', '.join(d.get('features', ()))}",
        )
    return BotModel(
        name=d["name"],
        estimator_kind=d["estimator_kind"],
        estimator=d["estimator"],
        features=tuple(d["features"]),
        version=d["version"],
        cv=d.get("cv", {}),
        trained_at=d.get("trained_at", ""),
        sklearn_version=d.get("sklearn_version", ""),
    )


def finite_or_none(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), 4)
