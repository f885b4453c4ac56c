"""Classify mode: does a defect classifier gain from flow-synthesized defect images? (Russell and Wang leave
that measurement to future work.) One small CNN, trained from scratch on the training images, in the ways a
practitioner would try: class weights alone, classic augmentation (flips, 90-degree rotations, small shifts,
brightness), then the better of those two on validation plus N decoded Gaussian codes (their ablation) or plus
N flow-synthesized defect images, N chosen on validation; and gradient boosting on texture statistics, the rival
without a network. Every row is scored on the validation images only; the best validation AP is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

from shopfloor.surface_inspection.features import texture_features
from shopfloor.surface_inspection.networks import DefectCNN
from shopfloor.surface_inspection.synthesis import as_batch


@dataclass(frozen=True)
class CNNConfig:
    filters: int = 16
    epochs: int = 25
    batch_size: int = 32
    lr: float = 1e-3


def classic_augmentation(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flips, 90-degree rotations, shifts of up to 4 pixels and brightness changes of up to 10 %."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        image = np.rot90(image, int(rng.integers(4)))
        if rng.random() < 0.5:
            image = image[:, ::-1]
        image = np.roll(image, tuple(rng.integers(-4, 5, 2)), axis=(0, 1))
        out[i] = np.clip(image * rng.uniform(0.9, 1.1) + rng.uniform(-0.05, 0.05), 0, 1)
    return out


def _fit(
    model: DefectCNN, images: np.ndarray, defect: np.ndarray, config: CNNConfig, seed: int, augment: bool
) -> DefectCNN:
    """``config.epochs`` epochs of Adam on ``model`` (in place), the positive class weighted by the remaining
    imbalance, each batch augmented when ``augment``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    positives = max(int(defect.sum()), 1)
    weight = torch.tensor((len(defect) - positives) / positives, dtype=torch.float32)
    target = torch.as_tensor(defect, dtype=torch.float32)
    model.train()
    for _ in range(config.epochs):
        order = rng.permutation(len(images))
        for first in range(0, len(order), config.batch_size):
            index = order[first : first + config.batch_size]
            if len(index) < 2:  # batch norm needs two images
                continue
            batch = classic_augmentation(images[index], rng) if augment else images[index]
            loss = F.binary_cross_entropy_with_logits(model(as_batch(batch)), target[index], pos_weight=weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def train_cnn(
    images: np.ndarray, defect: np.ndarray, config: CNNConfig, seed: int, augment: bool
) -> tuple[DefectCNN, float]:
    """A ``DefectCNN`` trained from scratch on ``images``; its seconds."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    model = _fit(DefectCNN(config.filters), images, defect, config, seed, augment)
    return model, time.perf_counter() - started


def continue_cnn(net: DefectCNN, images: np.ndarray, defect: np.ndarray, epochs: int, seed: int) -> DefectCNN:
    """A copy of ``net`` trained ``epochs`` more epochs on ``images`` (classic augmentation) at a tenth of the
    first training's learning rate: a warm start that keeps what it learned."""
    import copy

    config = CNNConfig(epochs=epochs, lr=CNNConfig.lr / 10)
    return _fit(copy.deepcopy(net), images, defect, config, seed, augment=True)


@torch.no_grad()
def cnn_probability(model: DefectCNN, images: np.ndarray, batch: int = 256) -> np.ndarray:
    parts = [torch.sigmoid(model(as_batch(images[i : i + batch]))).numpy() for i in range(0, len(images), batch)]
    return np.concatenate(parts).astype(np.float64)


class CNNScorer:
    """A trained ``DefectCNN``: images -> defect probability."""

    def __init__(self, net: DefectCNN) -> None:
        self.net = net

    def score(self, images: np.ndarray) -> np.ndarray:
        return cnn_probability(self.net, images)


class TextureBoosting:
    """Gradient boosting on texture statistics, classes balanced: images -> defect probability."""

    def __init__(self, seed: int = 0) -> None:
        self.model = HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)

    def fit(self, images: np.ndarray, defect: np.ndarray) -> TextureBoosting:
        self.model.fit(texture_features(images), defect)
        return self

    def score(self, images: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(texture_features(images))[:, 1]


@dataclass
class Candidate:
    """One row of the comparison: its scorer (``score(images)``: defect probability) and validation figures."""

    name: str
    scorer: CNNScorer | TextureBoosting
    valid_ap: float
    valid_auc: float
    seconds: float

    def score(self, images: np.ndarray) -> np.ndarray:
        return self.scorer.score(images)


def _row(name: str, scorer: CNNScorer | TextureBoosting, valid: np.ndarray, truth: np.ndarray, seconds: float):
    p = scorer.score(valid)
    return Candidate(name, scorer, float(average_precision_score(truth, p)), float(roc_auc_score(truth, p)), seconds)


def compare(
    train: np.ndarray,
    train_defect: np.ndarray,
    valid: np.ndarray,
    valid_defect: np.ndarray,
    synthesize: Callable[[int, bool], np.ndarray],
    ratios: tuple[float, ...] = (0.5, 1.0),
    config: CNNConfig | None = None,
    seed: int = 0,
) -> list[Candidate]:
    """Every row trained on ``train`` and scored on ``valid``. ``synthesize(n, flow)`` gives ``n`` defect images
    (flow-synthesized, or decoded Gaussian codes when ``flow`` is false); N for each is ``ratio`` times the
    number of images that would balance the classes."""
    config = config or CNNConfig()
    rows = []
    for name, augment in (("cnn/class-weights", False), ("cnn/augment", True)):
        model, seconds = train_cnn(train, train_defect, config, seed, augment)
        rows.append(_row(name, CNNScorer(model), valid, valid_defect, seconds))
    # Synthetic images are added to the better of the two on validation, so that what they add is measured
    # against the strongest of the plain trainings, not against one that validation would not keep.
    base = max(rows, key=lambda r: r.valid_ap)
    augment = base.name == "cnn/augment"
    gap = int((train_defect == 0).sum() - train_defect.sum())
    for flow, label in ((False, "gaussian"), (True, "flow")):
        for ratio in ratios:
            n = max(1, int(round(ratio * gap)))
            started = time.perf_counter()
            extra = synthesize(n, flow)
            images = np.concatenate([train, extra.astype(np.float32)])
            labels = np.concatenate([train_defect, np.ones(n, dtype=train_defect.dtype)])
            model, seconds = train_cnn(images, labels, config, seed, augment)
            took = seconds + time.perf_counter() - started
            rows.append(_row(f"{base.name}+{label}@{ratio:g}", CNNScorer(model), valid, valid_defect, took))
    started = time.perf_counter()
    boosting = TextureBoosting(seed).fit(train, train_defect)
    rows.append(_row("hgb/texture", boosting, valid, valid_defect, time.perf_counter() - started))
    return rows


def f2_threshold(truth: np.ndarray, score: np.ndarray) -> float:
    """The score at or above which flagging gives the best F2 on these (validation) images."""
    best, threshold = -1.0, float(score.max())
    for t in np.unique(score):
        flagged = score >= t
        tp = float((flagged & (truth == 1)).sum())
        if tp == 0:
            continue
        precision, recall = tp / flagged.sum(), tp / max(truth.sum(), 1)
        f2 = 5 * precision * recall / (4 * precision + recall)
        if f2 > best:
            best, threshold = f2, float(t)
    return threshold


def chosen(rows: list[Candidate]) -> Candidate:
    """The best validation AP (ties: the row listed first, the simpler)."""
    best = max(r.valid_ap for r in rows)
    return next(r for r in rows if r.valid_ap >= best - 1e-12)
