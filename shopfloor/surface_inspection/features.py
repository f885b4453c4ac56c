"""Texture statistics of an image, for the rivals without a network: what a practitioner computes first
(intensity histogram and percentiles, gradient and Laplacian energy, local contrast, the darkest and brightest
spots against the image's own level)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

BINS = 16


def texture_features(images: np.ndarray) -> np.ndarray:
    """[n, 64, 64] images -> [n, features] statistics."""
    rows = []
    for image in images:
        level = np.median(image)
        centred = image - level
        gx, gy = ndimage.sobel(image, 0), ndimage.sobel(image, 1)
        gradient = np.hypot(gx, gy)
        laplace = np.abs(ndimage.laplace(ndimage.gaussian_filter(image, 1.0)))
        local = ndimage.uniform_filter(image, 7)
        local_sd = np.sqrt(np.maximum(ndimage.uniform_filter(image**2, 7) - local**2, 0))
        residual = image - ndimage.gaussian_filter(image, 4.0)
        hist = np.histogram(centred, bins=BINS, range=(-0.5, 0.5))[0] / image.size
        rows.append(
            np.concatenate(
                [
                    hist,
                    np.percentile(centred, [1, 5, 25, 75, 95, 99]),
                    [image.mean(), image.std()],
                    np.percentile(gradient, [50, 90, 99, 100]),
                    np.percentile(laplace, [50, 90, 99, 100]),
                    np.percentile(local_sd, [50, 90, 99, 100]),
                    [residual.min(), residual.max(), np.abs(residual).mean(), (np.abs(residual) > 0.05).mean()],
                ]
            )
        )
    return np.asarray(rows, dtype=np.float64)
