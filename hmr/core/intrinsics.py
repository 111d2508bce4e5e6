"""The full image's camera intrinsics: from ``--focal-length``, ``--fov``, a calibration file, or
the default guess.

Precedence: a calibration file, then ``--focal-length`` (pixels), then ``--fov`` (the horizontal
field of view, degrees: f = (W / 2) / tan(fov / 2)), else the image diagonal f = √(W² + H²) as CLIFF
and GVHMR guess (about a 53° diagonal field of view). Without a calibration file the principal
point is the image centre and there is no distortion.

A calibration file is OpenCV's: the YAML that ``cv::FileStorage`` writes (``camera_matrix`` and
``distortion_coefficients`` as ``!!opencv-matrix``) or a JSON / plain YAML mapping with a 3×3
``K`` (also read as ``camera_matrix``, ``cameraMatrix`` or ``mtx``) and optional distortion
coefficients (``dist``, ``D``, ``distortion``, ``distortion_coefficients`` or ``dist_coeffs``:
4, 5, 8, 12 or 14 numbers in OpenCV's order), and optionally ``image_width`` and ``image_height``.

The body fit uses one focal length and square pixels, so keypoints are first mapped by
``Intrinsics.ideal_keypoints`` into the ideal camera (fx, fx, cx, cy) without distortion
(``cv2.undistortPoints``); that camera and the real one see the same 3D bodies.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from body_models.errors import InputError, MissingFileError

__all__ = [
    "DIST_KEYS",
    "DIST_LENGTHS",
    "Intrinsics",
    "K_KEYS",
    "default_focal_length",
    "load_calibration",
    "resolve_intrinsics",
]

K_KEYS = ("K", "camera_matrix", "cameraMatrix", "mtx")
DIST_KEYS = ("dist", "D", "distortion", "distortion_coefficients", "dist_coeffs")
DIST_LENGTHS = (0, 4, 5, 8, 12, 14)


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera with OpenCV distortion, pixels.

    Attributes:
        fx, fy: focal lengths, pixels.
        cx, cy: principal point, pixels.
        dist: (N,) OpenCV distortion coefficients (empty: none).
        source: how it was chosen: ``calibration FILE``, ``--focal-length``, ``--fov`` or
            ``image diagonal``.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple[float, ...] = ()
    source: str = "image diagonal"
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def matrix(self) -> np.ndarray:
        """(3, 3) K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def is_ideal(self) -> bool:
        """Square pixels and no distortion: keypoints need no mapping."""
        return self.fx == self.fy and not any(self.dist)

    def ideal_keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """(..., J, 2 or 3) pixels → the same points seen by the ideal camera (fx, fx, cx, cy),
        no distortion; NaN stays NaN, extra channels (confidence) pass through."""
        if self.is_ideal:
            return keypoints
        import cv2

        out = np.array(keypoints, dtype=np.float64, copy=True)
        xy = out[..., :2].reshape(-1, 2)
        ok = np.isfinite(xy).all(-1)
        if ok.any():
            ideal = np.array([[self.fx, 0.0, self.cx], [0.0, self.fx, self.cy], [0.0, 0.0, 1.0]])
            moved = cv2.undistortPoints(xy[ok].reshape(-1, 1, 2), self.matrix, np.asarray(self.dist, np.float64),
                                        P=ideal)
            xy[ok] = moved.reshape(-1, 2)
        out[..., :2] = xy.reshape(out[..., :2].shape)
        return out

    def to_json(self) -> dict:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy, "dist": list(self.dist),
                "source": self.source}


def default_focal_length(image_size: tuple[int, int]) -> float:
    """The focal length, pixels, assumed when nothing gives one: the image diagonal √(W² + H²)
    (about a 53° horizontal field of view at 4:3)."""
    width, height = image_size
    return math.hypot(width, height)


def resolve_intrinsics(image_size: tuple[int, int], focal_length: float | None = None, fov_deg: float | None = None,
                       calibration: str | os.PathLike | None = None) -> Intrinsics:
    """The camera for an image of ``image_size`` (width, height) pixels (see the module docstring)."""
    width, height = (float(v) for v in image_size)
    if not width > 0 or not height > 0:
        raise InputError("the image size is unknown; pass --image-size W H (or a calibration file)")
    if calibration is not None:
        return load_calibration(calibration, image_size)
    cx, cy = width / 2.0, height / 2.0
    if focal_length is not None:
        if not float(focal_length) > 0:
            raise InputError(f"--focal-length must be positive pixels, got {focal_length!r}")
        return Intrinsics(float(focal_length), float(focal_length), cx, cy, source="--focal-length")
    if fov_deg is not None:
        if not 0.0 < float(fov_deg) < 180.0:
            raise InputError(f"--fov must be a horizontal field of view in degrees between 0 and 180, got {fov_deg!r}")
        f = 0.5 * width / math.tan(math.radians(float(fov_deg)) / 2.0)
        return Intrinsics(f, f, cx, cy, source="--fov")
    f = default_focal_length((width, height))
    return Intrinsics(f, f, cx, cy, source="image diagonal")


def _opencv_yaml(text: str) -> dict:
    """A YAML mapping, with OpenCV's ``%YAML:1.0`` header and ``!!opencv-matrix`` nodes read safely."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def matrix(loader, node):
        spec = loader.construct_mapping(node, deep=True)
        shape = spec["sizes"] if "sizes" in spec else (spec.get("rows", 0), spec.get("cols", 0))
        return np.asarray(spec.get("data", []), np.float64).reshape([int(v) for v in shape])

    Loader.add_constructor("tag:yaml.org,2002:opencv-matrix", matrix)
    Loader.add_constructor("tag:yaml.org,2002:opencv-nd-matrix", matrix)
    lines = text.splitlines()
    if lines and lines[0].startswith("%YAML"):
        lines = lines[1:]
    return yaml.load("\n".join(lines), Loader=Loader)  # noqa: S506 (a SafeLoader subclass)


def load_calibration(path: str | os.PathLike, image_size: tuple[int, int] | None = None) -> Intrinsics:
    """Intrinsics from an OpenCV-style calibration file (YAML or JSON; see the module docstring).

    Args:
        path: the file.
        image_size: (width, height) of the video; a file that records another size is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"calibration file {path} not found")
    text = path.read_text(errors="replace")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else _opencv_yaml(text)
    except Exception as err:  # yaml and json both raise their own error types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"calibration file {path} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} "
                         f"({first}); write K (3x3) and dist as OpenCV does") from None
    if not isinstance(data, dict):
        raise InputError(f"calibration file {path} holds no mapping; write K (3x3) and dist as OpenCV does")
    k_key = next((k for k in K_KEYS if k in data), None)
    if k_key is None:
        raise InputError(f"calibration file {path} has no camera matrix; expected one of {', '.join(K_KEYS)} (3x3)")
    try:
        k = np.asarray(data[k_key], dtype=np.float64)
        dist_key = next((d for d in DIST_KEYS if d in data), None)
        dist = np.asarray(data[dist_key] if dist_key else [], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"calibration file {path}: the camera matrix and distortion must be numbers") from None
    if k.size == 9:
        k = k.reshape(3, 3)
    if k.shape != (3, 3) or not np.isfinite(k).all():
        raise InputError(f"calibration file {path}: {k_key} has shape {k.shape}, expected a 3x3 camera matrix")
    if not (k[0, 0] > 0 and k[1, 1] > 0) or np.abs(k[2] - [0, 0, 1]).max() > 1e-9 or k[1, 0] != 0:
        raise InputError(f"calibration file {path}: {k_key} is not a camera matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] "
                         "with positive focal lengths")
    if dist.size not in DIST_LENGTHS or not np.isfinite(dist).all():
        raise InputError(f"calibration file {path}: {dist.size} distortion coefficients; OpenCV takes "
                         f"{', '.join(str(n) for n in DIST_LENGTHS[1:])}")
    if abs(k[0, 1]) > 1e-9:
        raise InputError(f"calibration file {path}: skew {k[0, 1]} is not supported; calibrate with zero skew")
    size = (data.get("image_width"), data.get("image_height"))
    if image_size is not None and all(v is not None for v in size) and tuple(int(v) for v in size) != tuple(
            int(v) for v in image_size):
        raise InputError(f"calibration file {path} is for {size[0]}x{size[1]} images, the video is "
                         f"{image_size[0]}x{image_size[1]}; calibrate at the video's size")
    return Intrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                      tuple(float(v) for v in dist), source=f"calibration {path}")
