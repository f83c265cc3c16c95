"""End to end: a small convnet learns scikit-learn's 8x8 handwritten digits with AdamW."""

from __future__ import annotations

import time

import numpy as np
import pytest

import lucid
from lucid import nn, optim


class DigitNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(16, 32, 3, padding="same"),
            nn.GroupNorm(4, 32),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(2),  # 4x4 -> 2x2
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.1), nn.Linear(32 * 2 * 2, 64), nn.SiLU(), nn.Linear(64, 10)
        )

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.slow
def test_convnet_learns_digits_with_adamw():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    test, train = order[:360], order[360:]

    lucid.manual_seed(0)
    model = DigitNet()
    optimizer = optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(10):
        model.train()
        for batch in np.array_split(rng.permutation(train), len(train) // 64):
            loss = nn.functional.cross_entropy(
                model(lucid.tensor(images[batch])),
                lucid.tensor(labels[batch]),
                label_smoothing=0.05,
            )
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
    elapsed = time.perf_counter() - start

    model.eval()
    with lucid.no_grad():
        predicted = model(lucid.tensor(images[test])).argmax(axis=1).numpy()
    accuracy = (predicted == labels[test]).mean()
    assert accuracy >= 0.95, f"held-out accuracy {accuracy:.3f} after {elapsed:.1f} s of training"
    assert elapsed < 120
