"""The canonical digits data set (sklearn ``load_digits``, bundled, no download) and its fixed split.

Images are 8x8 with 17 grey levels; they are scaled to [0, 1] by ``pixel / 16`` and fed directly (the same
image at every time step). The test split is the one accuracies are reported on.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor


def load_digits_split(seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)``: float32 ``[N, 1, 8, 8]`` in [0, 1] and int64 labels.

    Stratified split, 25 % test (1347 train, 450 test images), ``random_state=seed``.
    """
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=seed
    )

    def images(a: np.ndarray) -> Tensor:
        return torch.as_tensor(a / 16.0, dtype=torch.float32).unsqueeze(1)

    def labels(a: np.ndarray) -> Tensor:
        return torch.as_tensor(a, dtype=torch.int64)

    return images(x_train), labels(y_train), images(x_test), labels(y_test)
