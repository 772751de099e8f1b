"""Label files, the heuristic score, and model training / saving / loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fimiscope.characterize import automation as auto
from fimiscope.characterize.features import FEATURES
from fimiscope.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "labels.csv"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = "platform,account_id,label\n" + "".join(
    f"x,{i},{'bot' if i % 2 else 'human'}\n" for i in range(10)
)


def test_good_label_file(tmp_path: Path) -> None:
    lab = auto.read_labels(_write(tmp_path, GOOD))
    assert len(lab) == 10 and lab[("x", "1")] == 1 and lab[("x", "0")] == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("platform,account,label\nx,1,bot\n", "missing column"),
        ("platform,account_id,label\nx,1,robot\n", "line 2: unknown label 'robot'"),
        ("platform,account_id,label\nx,1,bot\nx,1,human\n", "line 3: duplicate account x:1"),
        ("platform,account_id,label\nx,,bot\n", "line 2: empty platform or account_id"),
        ("platform,account_id,label\nx,1,bot\nx,2,human\n", "too few labelled accounts"),
        ("", "missing column"),
    ],
)
def test_bad_label_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(auto.LabelFileError, match=message) as ei:
        auto.read_labels(_write(tmp_path, text))
    assert isinstance(ei.value, ValueError) and str(tmp_path) in str(ei.value)


def test_missing_label_file(tmp_path: Path) -> None:
    with pytest.raises(auto.LabelFileError, match="no such file"):
        auto.read_labels(tmp_path / "nope.csv")


def test_heuristic_contributions_sum_to_the_score() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, len(FEATURES)))
    x[:, FEATURES.index("default_handle")] = rng.random(50) < 0.2
    s, c = auto.heuristic_score(x)
    assert np.allclose(s, 1 / (1 + np.exp(-(auto.HEURISTIC_INTERCEPT + c.sum(axis=1)))))
    d = {f: float(c[0, j]) for j, f in enumerate(FEATURES)}
    assert "could also be" in auto.explain(d) or auto.explain(d).startswith("No feature")


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    y = (rng.random(n) < 0.3).astype(int)
    x = rng.normal(size=(n, len(FEATURES)))
    x[:, 0] += 2.5 * y  # rate_per_day separates the classes
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values are imputed
    return x, y


@pytest.mark.parametrize("kind", ["logistic", "gbm"])
def test_fit_save_load(tmp_path: Path, kind: str) -> None:
    x, y = _data()
    m = auto.fit_bot_model(x, y, estimator=kind, folds=4, seed=0, name="t")
    assert m.cv["roc_auc"] > 0.85 and m.cv["folds"] == 4
    p = auto.save_bot_model(m, tmp_path / "m.joblib")
    m2 = auto.load_bot_model(p)
    s, c = m2.predict(x)
    assert s.shape == (len(y),) and m2.method == "model:t@1"
    assert (c is not None) == (kind == "logistic")


def test_model_with_other_features_is_refused(tmp_path: Path) -> None:
    import joblib

    x, y = _data()
    m = auto.fit_bot_model(x, y, folds=3)
    p = auto.save_bot_model(m, tmp_path / "m.joblib")
    d = joblib.load(p)
    d["features"] = d["features"][:-1]
    joblib.dump(d, p)
    with pytest.raises(ConfigError, match="features"):
        auto.load_bot_model(p)
    (tmp_path / "junk.joblib").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="train-bot-model"):
        auto.load_bot_model(tmp_path / "junk.joblib")
