"""Images a user brings: a folder with one subfolder per class, or a CSV manifest ``path,label``.

The defect-free class is named (``good_class``); every other class is a defect kind. In a class folder, a PNG
with the same name as a JPEG (``NAME.jpg`` and ``NAME.png``, as the magnetic tile set ships) or a file named
``NAME_mask.png`` is that image's pixel mask, not an image. Problems are ``DataError``s naming the file or the
field: a file that is not an image, one class only, a class with too few images, a manifest naming a missing
file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopfloor.data.images import decode
from shopfloor.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MIN_IMAGES = 5  # a class with fewer cannot be split into training, validation and test images


@dataclass
class ImageSet:
    """Images as [n, 64, 64] float32 in [0, 1], each one's class name and file, and the defect-free class."""

    images: np.ndarray
    labels: np.ndarray  # class name per image
    paths: list[str]
    good_class: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def defect(self) -> np.ndarray:
        """1 for a defect image (any class but the good one), 0 for a good one."""
        return (self.labels != self.good_class).astype(np.int64)

    @property
    def kinds(self) -> list[str]:
        """The defect kinds, in order of name."""
        return sorted(set(self.labels.tolist()) - {self.good_class})

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index], [self.paths[i] for i in index], self.good_class)


def _is_mask(path: Path, names: set[str]) -> bool:
    stem = path.stem
    if stem.endswith(("_mask", "_GT", "_gt")):
        return True
    return path.suffix.lower() == ".png" and any(f"{stem}{s}" in names for s in (".jpg", ".jpeg"))


def _folder(root: Path) -> list[tuple[Path, str]]:
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError("data", f"{root} has no class folders: give one subfolder per class (good and each defect)")
    found = []
    for folder in classes:
        names = {p.name for p in folder.iterdir()}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not _is_mask(path, names):
                found.append((path, folder.name))
    return found


def _manifest(path: Path) -> list[tuple[Path, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"path", "label"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(
                f"{path.name}: columns", f"a manifest has the columns path,label; missing {sorted(missing)}"
            )
        rows = [(row["path"], row["label"]) for row in reader]
    found: list[tuple[Path, str]] = []
    absent: list[tuple[Path, str]] = []
    for name, label in rows:
        file = (path.parent / name) if not Path(name).is_absolute() else Path(name)
        (found if file.is_file() else absent).append((file, str(label)))
    if absent:
        shown = ", ".join(str(f) for f, _ in absent[:3])
        raise DataError(f"{path.name}: path", f"{len(absent)} file(s) named in the manifest do not exist: {shown}")
    return found


def load(path: str | Path, good_class: str = "good", min_images: int = MIN_IMAGES) -> ImageSet:
    """Every image of a folder of class folders or of a manifest CSV, decoded and checked."""
    root = Path(path)
    if not root.exists():
        raise DataError("data", f"{root} does not exist")
    listed = _manifest(root) if root.is_file() else _folder(root)
    images, labels, paths = [], [], []
    for file, label in listed:
        images.append(decode(file.read_bytes(), str(file)))
        labels.append(label)
        paths.append(str(file))
    return checked(
        ImageSet(
            np.stack(images) if images else np.zeros((0, 64, 64), np.float32), np.array(labels), paths, good_class
        ),
        str(root),
        min_images,
    )


def checked(data: ImageSet, where: str, min_images: int = MIN_IMAGES) -> ImageSet:
    """``data`` when it can train a model: the good class and at least one defect kind, each with
    ``min_images`` images or more."""
    counts = {str(k): int(v) for k, v in zip(*np.unique(data.labels, return_counts=True), strict=True)}
    if data.good_class not in counts:
        raise DataError(
            "good-class",
            f"{where} has no images of the good class {data.good_class!r} (classes: {', '.join(counts) or 'none'})",
        )
    if len(counts) < 2:
        raise DataError("data", f"{where} has one class only ({data.good_class}): add at least one defect class")
    few = {k: v for k, v in counts.items() if v < min_images}
    if few:
        named = ", ".join(f"{k} ({v})" for k, v in few.items())
        raise DataError("data", f"{where}: each class needs at least {min_images} images; too few in {named}")
    return data


def split(
    data: ImageSet, fractions: tuple[float, float] = (0.6, 0.2), seed: int = 0, held_out: tuple[str, ...] = ()
) -> tuple[ImageSet, ImageSet, ImageSet]:
    """Train, validation and test images, stratified by class (``fractions``: train and validation; the rest is
    test). The ``held_out`` defect kinds go to the test images whole: a detector's threshold and choice never see
    them, so the test says how it meets a kind of defect nobody labelled."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    for label in sorted(set(data.labels.tolist())):
        index = rng.permutation(np.flatnonzero(data.labels == label))
        if label in held_out:
            parts[2] += index.tolist()
            continue
        n_train = max(1, int(round(fractions[0] * len(index))))
        n_valid = max(1, int(round(fractions[1] * len(index))))
        parts[0] += index[:n_train].tolist()
        parts[1] += index[n_train : n_train + n_valid].tolist()
        parts[2] += index[n_train + n_valid :].tolist()
    return tuple(data.subset(np.sort(np.array(p, dtype=int))) for p in parts)  # type: ignore[return-value]
