"""Models fitted by the scripts in eval/ and committed as JSON files in service/models/.

A logistic regression over named features (standardised with the training means and scales,
weighted, squashed to a probability; applied without a learning library), or gradient-boosted
trees in LightGBM's own text format inside the JSON. Either gives ``probability(values)``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MODELS = Path(__file__).with_name("models")


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5  # the probability at or above which the decision is yes
    meta: dict = field(default_factory=dict)  # how it was fitted: data, cross-validated figures

    def probability(self, values: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * (float(values[f]) - m) / s for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef))
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))

    def to_json(self) -> str:
        return json.dumps(
            {"features": self.features, "mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept, "threshold": self.threshold, "meta": self.meta},
            ensure_ascii=False, indent=1,
        )

    @classmethod
    def load(cls, name: str) -> LogisticModel:
        """The model ``service/models/<name>.json``."""
        data = json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8"))
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]), float(data["threshold"]), data.get("meta", {}))


class BoostedModel:
    """Gradient-boosted trees (LightGBM) over named features, with the threshold chosen when fitted."""

    def __init__(self, features: tuple[str, ...], booster_text: str, threshold: float, meta: dict | None = None) -> None:
        import lightgbm

        self.features = tuple(features)
        self.threshold = threshold
        self.meta = meta or {}
        self.booster_text = booster_text
        self._booster = lightgbm.Booster(model_str=booster_text)

    def probability(self, values: Mapping[str, float]) -> float:
        return float(self._booster.predict([[float(values[f]) for f in self.features]])[0])

    def to_json(self) -> str:
        return json.dumps({"kind": "lightgbm", "features": self.features, "threshold": self.threshold, "meta": self.meta, "booster": self.booster_text}, ensure_ascii=False, indent=1)


Classifier = LogisticModel | BoostedModel


def load_classifier(name: str) -> Classifier:
    """The model ``service/models/<name>.json``, of whichever kind it was fitted as."""
    data = json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8"))
    if data.get("kind") == "lightgbm":
        return BoostedModel(tuple(data["features"]), data["booster"], float(data["threshold"]), data.get("meta", {}))
    return LogisticModel.load(name)
