"""A trained probe: logistic regression on the model's hidden state at the answer's last token.

The fair competitor of a trained confidence model is a baseline that saw the same labels. The probe reads the
base model's residual stream after the answer (the stage-1 prompt followed by the answer's text, the hidden
state of every layer at its last token) and predicts whether the answer is right:

    c = sigmoid(w . (h_l - mu) / sigma + b)

with ``l`` the layer, ``mu``/``sigma`` the training features' mean and standard deviation, and ``w``, ``b`` an
L2-regularised logistic regression (scikit-learn). The layer is chosen by stratified K-fold cross-validation on
the training labels only (the layer with the best mean held-out log loss; the proper score the trained model
optimises), then the probe is refitted on every training label at that layer. :class:`Probe` is the saved
artifact (JSON): coefficients, layer, standardisation, the model's sha256 (a probe is refused on another model),
the labels' source and the cross-validation table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from calbench.errors import UserError

FORMAT = "calbench-probe"
VERSION = 1
#: what the features are, recorded in the artifact
FEATURE = "hidden state at the last token of the stage-1 prompt followed by the answer (after each layer)"


class ProbeError(UserError):
    """A probe file is unreadable, of another format, or for another model."""


@dataclass
class Probe:
    """A fitted probe (the ``calbench probe fit`` artifact)."""

    model_sha256: str | None
    layer: int
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    C: float
    n_train: int
    positives: int
    cv: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    feature: str = FEATURE

    def predict(self, features: np.ndarray) -> np.ndarray:
        """P(right) for features of shape (n, layers, d) or (n, d) (the latter: already this probe's layer)."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim == 3:
            x = x[:, self.layer, :]
        z = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"format": FORMAT, "version": VERSION, **asdict(self)}) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Probe:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ProbeError(f"{path}: not a readable probe file ({e})") from None
        if data.get("format") != FORMAT:
            raise ProbeError(f"{path}: not a calbench probe (format {data.get('format')!r})")
        if int(data.get("version", 0)) > VERSION:
            raise ProbeError(f"{path}: probe format version {data['version']} is newer than this calbench's {VERSION}")
        fields_ = {k: v for k, v in data.items() if k not in ("format", "version")}
        try:
            return cls(**fields_)
        except TypeError as e:
            raise ProbeError(f"{path}: {e}") from None

    def check_model(self, sha256: str | None, where: str) -> None:
        """Refuse to apply this probe to a model other than the one it was fitted on."""
        if self.model_sha256 and self.model_sha256 != sha256:
            raise ProbeError(
                f"{where}: the probe was fitted on the hidden states of model sha256 "
                f"{self.model_sha256[:12]}..., this model's is {(sha256 or 'unknown')[:12]}...; "
                "fit a probe on this model (`calbench probe fit`)"
            )


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(0)
    scale = x.std(0)
    scale[scale < 1e-8] = 1.0
    return (x - mean) / scale, mean, scale


def fit_probe(
    features: np.ndarray,
    labels: Sequence[int],
    *,
    layers: Sequence[int] | None = None,
    C: float = 0.1,
    folds: int = 5,
    seed: int = 0,
    model_sha256: str | None = None,
    labels_record: dict[str, Any] | None = None,
) -> Probe:
    """Fit a :class:`Probe` on ``features`` (n, layers, d) and 0/1 ``labels``, choosing the layer among
    ``layers`` (default: every layer but the embeddings) by ``folds``-fold cross-validated log loss."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=int)
    if x.ndim != 3 or len(x) != len(y):
        raise ValueError(f"features must be (n, layers, d) with one label per row; got {x.shape} and {len(y)} labels")
    positives = int(y.sum())
    if positives < 2 or positives > len(y) - 2:
        raise ProbeError(f"a probe needs at least 2 right and 2 wrong answers; got {positives} right of {len(y)}")
    candidates = list(layers) if layers is not None else list(range(1, x.shape[1]))
    k = max(2, min(folds, positives, len(y) - positives))
    split = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x[:, 0, :1], y))
    cv: dict[str, dict[str, float]] = {}
    for layer in candidates:
        pred = np.empty(len(y))
        for train, test in split:
            xs, mean, scale = _standardise(x[train, layer])
            model = LogisticRegression(C=C, max_iter=2000).fit(xs, y[train])
            pred[test] = model.predict_proba((x[test, layer] - mean) / scale)[:, 1]
        cv[str(layer)] = {"log_loss": float(log_loss(y, pred, labels=[0, 1])), "auroc": float(roc_auc_score(y, pred))}
    best = min(candidates, key=lambda layer: (cv[str(layer)]["log_loss"], layer))
    xs, mean, scale = _standardise(x[:, best])
    model = LogisticRegression(C=C, max_iter=2000).fit(xs, y)
    return Probe(
        model_sha256=model_sha256,
        layer=int(best),
        mean=mean.tolist(),
        scale=scale.tolist(),
        coef=model.coef_[0].tolist(),
        intercept=float(model.intercept_[0]),
        C=C,
        n_train=len(y),
        positives=positives,
        cv=cv,
        labels=labels_record or {},
    )
