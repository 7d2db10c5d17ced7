"""Models fitted by the scripts in eval/ and committed as JSON files in service/models/.

A logistic regression over named features (standardised with the training means and scales,
weighted, squashed to a probability), or gradient-boosted trees in LightGBM's own text format
inside the JSON; both applied without a learning library. Either gives ``probability(values)``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MODELS = Path(__file__).with_name("models")


def squash(z: float) -> float:
    """The logistic function, its argument clipped so that exp cannot overflow."""
    return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


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
        return squash(z)

    def to_dict(self) -> dict:
        return {"features": self.features, "mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept, "threshold": self.threshold, "meta": self.meta}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)

    @classmethod
    def from_dict(cls, data: Mapping) -> LogisticModel:
        """The model from ``to_dict``'s fields (a model used only for its probability may leave out the threshold)."""
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]), float(data["intercept"]), float(data.get("threshold", 0.5)), data.get("meta", {}))

    @classmethod
    def load(cls, name: str) -> LogisticModel:
        """The model ``service/models/<name>.json``."""
        return cls.from_dict(json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8")))


@dataclass(frozen=True)
class _Tree:
    """One tree of LightGBM's text format: internal node i splits on feature[i] at threshold[i];
    a child below 0 is the leaf ~child."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    decision: tuple[int, ...]  # LightGBM's decision_type: bit 1 missing goes left, bits 2–3 what counts as missing
    left: tuple[int, ...]
    right: tuple[int, ...]
    leaf: tuple[float, ...]

    def value(self, x: list[float]) -> float:
        node = 0 if self.feature else ~0
        while node >= 0:
            v, kind = x[self.feature[node]], self.decision[node]
            missing = (kind >> 2) & 3  # 0 none, 1 zero, 2 NaN
            if math.isnan(v) and missing != 2:
                v = 0.0
            if (missing == 1 and abs(v) <= 1e-35) or (missing == 2 and math.isnan(v)):
                node = self.left[node] if kind & 2 else self.right[node]
            else:
                node = self.left[node] if v <= self.threshold[node] else self.right[node]
        return self.leaf[~node]


def _trees(booster_text: str) -> tuple[list[_Tree], float]:
    """The trees of a binary LightGBM model's text, and its sigmoid's scale."""
    header, *blocks = booster_text.split("\nTree=")
    fields = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    objective = fields.get("objective", "").split()
    if not objective or objective[0] != "binary":
        raise ValueError(f"not a binary LightGBM model: objective {fields.get('objective')!r}")
    sigmoid = float(next((o.split(":")[1] for o in objective[1:] if o.startswith("sigmoid:")), 1.0))
    trees = []
    for block in blocks:
        t = dict(line.split("=", 1) for line in block.split("\nend of trees")[0].splitlines()[1:] if "=" in line)
        if int(t.get("num_cat", "0")):
            raise ValueError("categorical splits are not read here")
        ints = lambda key: tuple(int(v) for v in t.get(key, "").split())
        floats = lambda key: tuple(float(v) for v in t.get(key, "").split())
        trees.append(_Tree(ints("split_feature"), floats("threshold"), ints("decision_type"), ints("left_child"), ints("right_child"), floats("leaf_value")))
    return trees, sigmoid


class BoostedModel:
    """Gradient-boosted trees (LightGBM's text format) over named features, with the threshold
    chosen when fitted; several boosters (fitted with different seeds) give the mean of their
    probabilities. Evaluated here, tree by tree: the service needs no LightGBM (a second to import)."""

    def __init__(self, features: tuple[str, ...], boosters: tuple[str, ...], threshold: float, meta: dict | None = None) -> None:
        self.features = tuple(features)
        self.threshold = threshold
        self.meta = meta or {}
        self.boosters = tuple(boosters)
        self._forests = [_trees(text) for text in self.boosters]

    def probability(self, values: Mapping[str, float]) -> float:
        x = [float(values[f]) for f in self.features]
        return sum(squash(scale * sum(tree.value(x) for tree in trees)) for trees, scale in self._forests) / len(self._forests)

    def to_json(self) -> str:
        return json.dumps({"kind": "lightgbm", "features": self.features, "threshold": self.threshold, "meta": self.meta, "boosters": self.boosters}, ensure_ascii=False, indent=1)


Classifier = LogisticModel | BoostedModel


def load_classifier(name: str) -> Classifier:
    """The model ``service/models/<name>.json``, of whichever kind it was fitted as."""
    data = json.loads((MODELS / f"{name}.json").read_text(encoding="utf-8"))
    if data.get("kind") == "lightgbm":
        boosters = data["boosters"] if "boosters" in data else [data["booster"]]  # one booster: fitted before seeds were averaged
        return BoostedModel(tuple(data["features"]), tuple(boosters), float(data["threshold"]), data.get("meta", {}))
    return LogisticModel.load(name)
