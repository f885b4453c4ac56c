"""Textured grayscale surfaces with defects, the embedded default of surface inspection.

A surface is smoothed noise with a machining grain along a random direction and an uneven illumination; a
defect is drawn on top at a random place, size and contrast: a *scratch* (a thin straight line, lighter or
darker), *pits* (small dark round spots), a *crack* (a dark jagged path) or a *blotch* (a large soft stain).
Images differ in size, as cropped photographs do. Each defect image gets its pixel mask.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from shopfloor.data.images import encode_png

KINDS = ("scratch", "pit", "crack", "blotch")
DEFAULT_COUNTS = {"good": 300, "scratch": 40, "pit": 30, "crack": 25, "blotch": 25}


def surface(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = size
    grain = gaussian_filter(rng.normal(size=(h, w)), sigma=(rng.uniform(0.5, 1.5), rng.uniform(4, 10)))
    if rng.random() < 0.5:
        grain = grain.T if h == w else gaussian_filter(rng.normal(size=(h, w)), sigma=(rng.uniform(4, 10), 1.0))
    speckle = gaussian_filter(rng.normal(size=(h, w)), sigma=1.0)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    light = rng.uniform(-0.08, 0.08) * (xx - 0.5) + rng.uniform(-0.08, 0.08) * (yy - 0.5)
    image = rng.uniform(0.4, 0.6) + light + 0.6 * grain / (grain.std() + 1e-9) * 0.05 + 0.02 * speckle
    return image


def _line_mask(h: int, w: int, points: np.ndarray, width: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), bool)
    for (y0, x0), (y1, x1) in zip(points[:-1], points[1:], strict=True):
        dy, dx = y1 - y0, x1 - x0
        t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / max(dy * dy + dx * dx, 1e-9), 0, 1)
        mask |= (yy - (y0 + t * dy)) ** 2 + (xx - (x0 + t * dx)) ** 2 <= width**2
    return mask


def defect(image: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with one defect of ``kind`` drawn on it, and the defect's mask."""
    h, w = image.shape
    contrast = rng.uniform(0.08, 0.3)
    if kind == "scratch":
        length = rng.uniform(0.3, 0.8) * min(h, w)
        angle = rng.uniform(0, np.pi)
        centre = rng.uniform(0.25, 0.75, 2) * (h, w)
        offset = 0.5 * length * np.array([np.sin(angle), np.cos(angle)])
        mask = _line_mask(h, w, np.array([centre - offset, centre + offset]), rng.uniform(0.6, 1.6))
        sign = rng.choice([-1.0, 1.0])
    elif kind == "pit":
        yy, xx = np.mgrid[0:h, 0:w]
        mask = np.zeros((h, w), bool)
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0.15, 0.85, 2) * (h, w)
            mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(1.5, 4.5) ** 2
        sign = -1.0
    elif kind == "crack":
        steps = rng.integers(6, 12)
        start = rng.uniform(0.2, 0.8, 2) * (h, w)
        heading = rng.uniform(0, 2 * np.pi)
        points = [start]
        for _ in range(steps):
            heading += rng.normal(0, 0.6)
            points.append(points[-1] + rng.uniform(3, 7) * np.array([np.sin(heading), np.cos(heading)]))
        mask = _line_mask(h, w, np.clip(np.array(points), 0, [h - 1, w - 1]), rng.uniform(0.5, 1.2))
        sign = -1.0
    elif kind == "blotch":
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx = rng.uniform(0.25, 0.75, 2) * (h, w)
        ry, rx = rng.uniform(0.1, 0.25, 2) * (h, w)
        mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        contrast *= 0.6
        sign = rng.choice([-1.0, 1.0])
    else:
        raise ValueError(f"unknown defect kind {kind!r}; one of {', '.join(KINDS)}")
    soft = gaussian_filter(mask.astype(float), 1.0 if kind != "blotch" else 4.0)
    return image + sign * contrast * soft / max(soft.max(), 1e-9), mask


def simulate_surfaces(
    out: str | Path, counts: dict[str, int] | None = None, min_side: int = 96, max_side: int = 160, seed: int = 0
) -> Path:
    """Write ``counts`` images per class (``good`` and each defect kind) as PNGs under ``out/<class>/``, each
    defect image with its mask ``NAME_mask.png``; return ``out``."""
    rng = np.random.default_rng(seed)
    root = Path(out)
    for kind, count in (counts or DEFAULT_COUNTS).items():
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            size = (int(rng.integers(min_side, max_side + 1)), int(rng.integers(min_side, max_side + 1)))
            image = surface(size, rng)
            if kind != "good":
                image, mask = defect(image, kind, rng)
                (folder / f"{kind}_{i:04d}_mask.png").write_bytes(encode_png(mask.astype(float)))
            (folder / f"{kind}_{i:04d}.png").write_bytes(encode_png(np.clip(image, 0, 1)))
    return root
