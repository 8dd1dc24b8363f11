"""Joint confidence: a small learned part-pair classifier that says how likely an inferred joint
is right, from the description of the winning hypothesis (:func:`n4d4d.rigging.joints._features`).

What it does: maps a joint's features (the hypothesis' prior and sweep usefulness, its family
and kind, the pair's shape and contact, the free range, how many other parts the child
also touches, whether the separability check shrank its range, the share of a merged mesh's
piece in contact with what stays put) to ``P(the joint is right)``
with an L2-regularised logistic regression (fitted by Newton's method, features
standardised), one per part source: ``declared`` parts (a URDF's links, labelled sub-meshes)
and a merged mesh's ``components`` (pieces, most of them glued to their neighbours, so the
same hypothesis is right far less often there). Trained on the development set, the
procedural families and pybullet_data's robots (``n4d4d eval rigging --train``). A joint is *right* when
it has the true joint's motion class and, for a movable one, an axis within
:data:`AXIS_OK_DEG` of the truth. Weights written to ``rigging/weights/joint_confidence.json``
(a model card beside it) would be used, with the thresholds chosen with them; none are
shipped (:mod:`n4d4d.rigging.training` says why), so the rule score (prior x usefulness) is the
confidence and :data:`n4d4d.rigging.stage.MIN_CONFIDENCE` the threshold.

What it does not: choose the joint (the hypotheses and sweeps do), or see names or textures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS = Path(__file__).resolve().parent / "weights" / "joint_confidence.json"
AXIS_OK_DEG = 20.0  # a joint of the right class whose axis is further off than this is wrong
FAMILIES = ("press", "knob", "hinge", "pin", "bearing", "drawer", "fallback")
KINDS = ("revolute", "continuous", "prismatic")
NUMERIC = ("prior", "use", "score", "thinness", "normal_thin", "lever_n", "nested", "flat", "line", "cover_max",
           "cover_min", "revolution", "span", "other_prior", "held", "shrunk", "contact")
LOGS = ("size", "rel", "h_lat", "gap", "degree")  # log10(x + 1e-3): sizes and counts spread over decades


SOURCES = ("declared", "components")


def feature_names() -> list[str]:
    """Names of the model's inputs, in order."""
    return (list(NUMERIC) + [f"log_{k}" for k in LOGS] + [f"family_{f}" for f in FAMILIES]
            + [f"kind_{k}" for k in KINDS])


def feature_vector(features: dict) -> np.ndarray:
    """``(D,) float64`` input of the model from a joint's feature dict (missing values 0)."""
    x = [float(features.get(k, 0.0) or 0.0) for k in NUMERIC]
    x += [float(np.log10(float(features.get(k, 0.0) or 0.0) + 1e-3)) for k in LOGS]
    x += [float(features.get("family") == f) for f in FAMILIES]
    x += [float(features.get("kind") == k) for k in KINDS]
    return np.asarray(x, np.float64)


@dataclass(frozen=True)
class Logistic:
    """One logistic regression ``sigmoid(w . (x - mean) / scale + b)``."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(N,)`` probabilities for inputs ``(N, D)``."""
        z = ((np.atleast_2d(X) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "bias": self.bias}


@dataclass(frozen=True)
class ConfidenceModel:
    """One :class:`Logistic` per part source (``declared``, ``components``) and the
    confidence below which a joint is fused, by part source (``thresholds``)."""

    names: tuple
    models: dict
    thresholds: dict

    def predict(self, X: np.ndarray, source: str) -> np.ndarray:
        """``(N,)`` probabilities for inputs ``(N, D)`` of parts from ``source``."""
        return self.models[source].predict(X)

    def to_json(self, **extra) -> str:
        """The model as JSON (``extra`` keys added: provenance, figures)."""
        return json.dumps({"features": list(self.names), "models": {k: m.to_dict() for k, m in self.models.items()},
                           "thresholds": self.thresholds, **extra}, indent=1)


def fit(X: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iters: int = 50) -> Logistic:
    """Fit one logistic regression to inputs ``X (N, D)`` and labels ``y (N,)`` in {0, 1}
    (Newton-Raphson / IRLS on the L2-penalised log-likelihood, ``l2`` on standardised
    weights, the bias unpenalised)."""
    X = np.asarray(X, np.float64)
    y = np.asarray(y, np.float64)
    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = np.concatenate([(X - mean) / scale, np.ones((len(X), 1))], 1)
    w = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(Z @ w, -40, 40)))
        g = Z.T @ (p - y) + reg * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg + 1e-9)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return Logistic(mean, scale, w[:-1], float(w[-1]))


def from_json(text: str) -> ConfidenceModel:
    """A :class:`ConfidenceModel` from :meth:`ConfidenceModel.to_json` text."""
    d = json.loads(text)
    if d["features"] != feature_names():
        raise ValueError("joint confidence weights were trained on other features: retrain them")
    models = {k: Logistic(np.asarray(m["mean"]), np.asarray(m["scale"]), np.asarray(m["weights"]), float(m["bias"]))
              for k, m in d["models"].items()}
    return ConfidenceModel(tuple(d["features"]), models, dict(d.get("thresholds", {})))


@lru_cache(maxsize=1)
def shipped_model() -> ConfidenceModel | None:
    """The model in :data:`WEIGHTS`, or None when the file is absent."""
    if not WEIGHTS.is_file():
        return None
    return from_json(WEIGHTS.read_text())


def joint_confidence(features: dict | None, rule_score: float, components: bool) -> float:
    """Confidence of one inferred joint: the shipped model's probability, or ``rule_score``
    (prior x usefulness) without a model or features."""
    model = shipped_model()
    source = "components" if components else "declared"
    if model is None or not features or source not in model.models:
        return float(rule_score)
    return float(model.predict(feature_vector(features), source)[0])


def threshold(part_source: str) -> float:
    """The shipped threshold for parts from ``part_source`` (``"declared"`` or
    ``"components"``): the model's, else :data:`n4d4d.rigging.stage.MIN_CONFIDENCE`'s."""
    from n4d4d.rigging.stage import MIN_CONFIDENCE

    model = shipped_model()
    if model is not None and part_source in model.thresholds:
        return float(model.thresholds[part_source])
    return float(MIN_CONFIDENCE[part_source])
