"""Person boxes for top-down pose: a boxes file, a keypoint-driven tracker, or a detector.

Three sources, one output per frame (``Detections``: boxes x1, y1, x2, y2 in pixels, scores,
track ids):

- ``load_boxes_file``: boxes the user gives, JSON or CSV (formats in its docstring).
- ``KeypointBoxTracker``: one person; the next frame's box is this frame's confident keypoints,
  padded, and the whole frame when the confidence drops (a whole-frame search).
- ``Detector``: any callable ``frame (H, W, 3) uint8 RGB → (N, 5) boxes + score``, loaded from a
  ``module:factory`` import path with ``load_detector``.

``IoUTracker`` gives several people stable track ids: Hungarian matching of each frame's people
to the tracks of the frames before, by box IoU (boxes moved on by their velocity), or by OKS
when keypoints are known. Detectors live in ``hmr.pose2d.detectors``.

Plugging in a detector. Write a module on your ``PYTHONPATH``, e.g. ``my_detector.py``::

    def make_detector():
        model = load_my_model("weights.pth")         # your code and weights
        def detect(frame):                           # (H, W, 3) uint8 RGB
            boxes, scores = model(frame)             # people only
            return np.concatenate([boxes, scores[:, None]], axis=1)   # (N, 5) x1, y1, x2, y2, score
        return detect

and run ``hmr keypoints VIDEO --detector my_detector:make_detector ...``.
"""

from __future__ import annotations

import csv
import importlib
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from body_models.errors import InputError, MissingFileError

__all__ = [
    "COCO_OKS_SIGMAS",
    "Detections",
    "Detector",
    "IoUTracker",
    "KeypointBoxTracker",
    "box_iou",
    "keypoint_oks",
    "load_boxes_file",
    "load_detector",
    "no_detections",
    "run_detector",
    "track_summary",
]

# COCO keypoint falloff constants (per joint, COCO-17 order), used by OKS.
COCO_OKS_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62,
                            1.07, 1.07, 0.87, 0.87, 0.89, 0.89]) / 10.0


@dataclass
class Detections:
    """The people found in one frame.

    Attributes:
        boxes: (N, 4) float64 pixels x1, y1, x2, y2.
        scores: (N,) float64 detection scores (1 when the source has none).
        track_ids: (N,) int64 identities; -1 where not yet assigned.
    """

    boxes: np.ndarray
    scores: np.ndarray = field(default=None)  # type: ignore[assignment]
    track_ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        n = len(self.boxes)
        self.scores = np.ones(n) if self.scores is None else np.asarray(self.scores, np.float64).reshape(n)
        self.track_ids = np.full(n, -1, np.int64) if self.track_ids is None else np.asarray(self.track_ids, np.int64).reshape(n)

    def __len__(self) -> int:
        return len(self.boxes)


def no_detections() -> Detections:
    return Detections(np.zeros((0, 4)))


# ---------------------------------------------------------------------------------------------
# (a) boxes files


def load_boxes_file(path: str | os.PathLike, num_frames: int | None = None) -> dict[int, Detections]:
    """Read person boxes per frame from JSON or CSV.

    JSON: either an object ``{"<frame>": [[x1, y1, x2, y2(, score)], ...], ...}`` or a list with
    one entry per frame, each a list of such boxes (an empty list: nobody in that frame).
    CSV: rows ``frame,x1,y1,x2,y2[,score][,track_id]``; a header row with these names is
    optional (with a header the columns may come in any order). Frames are 0-based indices of
    the video or image folder; frames not mentioned have no person.

    Args:
        path: the file (.json or .csv).
        num_frames: frames in the video; a box on a later frame is an error.

    Returns:
        frame index → ``Detections`` (track ids from the CSV's track_id column, else -1).

    Raises:
        MissingFileError: no such file.
        InputError: unknown suffix, malformed rows, boxes with x2 <= x1 or y2 <= y1, negative
            frames or frames beyond ``num_frames``.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"boxes file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        rows = _rows_from_json(path)
    elif suffix == ".csv":
        rows = _rows_from_csv(path)
    else:
        raise InputError(f"{path}: boxes files must be .json or .csv")
    per_frame: dict[int, list[tuple[list[float], float, int]]] = {}
    for frame, box, score, track in rows:
        if frame < 0:
            raise InputError(f"{path}: frame {frame} is negative; frames are 0-based video frame indices")
        if num_frames is not None and frame >= num_frames:
            raise InputError(f"{path}: has boxes for frame {frame} but the video has {num_frames} frames "
                             f"(0..{num_frames - 1}); is it the boxes file of another video?")
        items = per_frame.setdefault(frame, [])
        if box is None:  # a frame listed with no boxes
            continue
        x1, y1, x2, y2 = box
        if not all(math.isfinite(v) for v in box) or x2 <= x1 or y2 <= y1:
            raise InputError(f"{path}: frame {frame} has box {box}; boxes are x1, y1, x2, y2 pixels with x2 > x1, y2 > y1")
        items.append((box, score, track))
    return {frame: Detections(np.array([b for b, _, _ in items]).reshape(-1, 4), np.array([s for _, s, _ in items]),
                              np.array([t for _, _, t in items], np.int64))
            for frame, items in sorted(per_frame.items())}


def _box_values(values, where: str) -> tuple[list[float], float]:
    if not isinstance(values, (list, tuple)) or len(values) not in (4, 5):
        raise InputError(f"{where}: a box must be [x1, y1, x2, y2] or [x1, y1, x2, y2, score], got {values!r}")
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InputError(f"{where}: box values must be numbers, got {values!r}") from None
    return numbers[:4], numbers[4] if len(numbers) == 5 else 1.0


def _rows_from_json(path: Path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path} is not valid JSON ({err})") from None
    if isinstance(data, dict):
        items = []
        for key, boxes in data.items():
            try:
                items.append((int(key), boxes))
            except ValueError:
                raise InputError(f"{path}: key {key!r} is not a frame number") from None
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        raise InputError(f"{path}: expected {{frame: [[x1, y1, x2, y2(, score)], ...]}} or a list per frame")
    rows = []
    for frame, boxes in items:
        if not isinstance(boxes, list):
            raise InputError(f"{path}: frame {frame} must hold a list of boxes, got {boxes!r}")
        if boxes and not isinstance(boxes[0], (list, tuple)):
            boxes = [boxes]  # a single box written without the outer list
        if not boxes:
            rows.append((frame, None, 1.0, -1))
        for values in boxes:
            box, score = _box_values(values, f"{path} frame {frame}")
            rows.append((frame, box, score, -1))
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_CSV_COLUMNS = ("frame", "x1", "y1", "x2", "y2", "score", "track_id")


def _rows_from_csv(path: Path):
    with path.open(newline="", encoding="utf-8") as f:
        lines = [row for row in csv.reader(f) if row and not row[0].lstrip().startswith("#")]
    if not lines:
        return []
    header = [c.strip().lower() for c in lines[0]]
    has_header = not _is_number(header[0])
    if has_header:
        unknown = [c for c in header if c not in _CSV_COLUMNS]
        if unknown or not set(_CSV_COLUMNS[:5]) <= set(header):
            raise InputError(f"{path}: header {lines[0]} must name frame, x1, y1, x2, y2 and optionally score, "
                             f"track_id (unknown: {unknown})")
        columns, lines = header, lines[1:]
    else:
        columns = list(_CSV_COLUMNS[: len(header)])
    rows = []
    for number, line in enumerate(lines, start=2 if has_header else 1):
        if len(line) != len(columns) or len(columns) < 5:
            raise InputError(f"{path} line {number}: {len(line)} columns; expected frame,x1,y1,x2,y2[,score][,track_id]")
        try:
            values = {name: float(v) for name, v in zip(columns, line)}
        except ValueError:
            raise InputError(f"{path} line {number}: {line} holds a value that is not a number") from None
        frame = values["frame"]
        if frame != int(frame):
            raise InputError(f"{path} line {number}: frame {frame} is not an integer")
        box = [values["x1"], values["y1"], values["x2"], values["y2"]]
        rows.append((int(frame), box, values.get("score", 1.0), int(values.get("track_id", -1))))
    return rows


# ---------------------------------------------------------------------------------------------
# (b) single person: boxes from the previous frame's keypoints


@dataclass
class KeypointBoxTracker:
    """One person: each frame's box is the previous frame's confident keypoints, padded.

    The first frame, and every frame after one where fewer than ``min_joints`` joints reached
    ``min_confidence``, is searched whole (the box is the whole frame).

    Attributes:
        image_size: (width, height) of the frames, pixels.
        min_confidence: joint confidence that counts as found.
        min_joints: confident joints needed to follow the person.
        padding: the tight box around the confident joints grows by this factor about its centre
            (the crop then adds HRNet's own 1.25).
    """

    image_size: tuple[int, int]
    min_confidence: float = 0.3
    min_joints: int = 4
    padding: float = 1.2
    _box: np.ndarray | None = None

    def whole_frame(self) -> np.ndarray:
        width, height = self.image_size
        return np.array([0.0, 0.0, float(width), float(height)])

    @property
    def searching(self) -> bool:
        """The next frame is searched whole (no person followed)."""
        return self._box is None

    def box(self) -> np.ndarray:
        """(4,) the box to crop in the next frame, pixels x1, y1, x2, y2."""
        return self.whole_frame() if self._box is None else self._box.copy()

    def found(self, keypoints: np.ndarray) -> bool:
        """Whether (J, 3) keypoints hold enough confident joints to count as a person."""
        conf = np.nan_to_num(keypoints[:, 2], nan=0.0)
        return int((conf >= self.min_confidence).sum()) >= self.min_joints

    def update(self, keypoints: np.ndarray) -> bool:
        """Take this frame's (J, 3) keypoints (pixels, confidence); returns ``found``."""
        if not self.found(keypoints):
            self._box = None
            return False
        ok = (np.nan_to_num(keypoints[:, 2], nan=0.0) >= self.min_confidence) & np.isfinite(keypoints[:, :2]).all(-1)
        xy = keypoints[ok, :2]
        low, high = xy.min(0), xy.max(0)
        centre, half = 0.5 * (low + high), 0.5 * (high - low) * self.padding
        half = np.maximum(half, 0.05 * max(self.image_size))  # never collapse onto one joint
        width, height = self.image_size
        box = np.concatenate([centre - half, centre + half])
        box = np.clip(box, 0.0, [width, height, width, height])
        self._box = box if box[2] > box[0] and box[3] > box[1] else None
        return True


# ---------------------------------------------------------------------------------------------
# (c) detectors


@runtime_checkable
class Detector(Protocol):
    """A person detector: ``detector(frame)`` with frame (H, W, 3) uint8 RGB returns (N, 5)
    boxes x1, y1, x2, y2 in pixels and a score, people only."""

    def __call__(self, frame: np.ndarray) -> np.ndarray: ...


def load_detector(spec: str) -> Detector:
    """Build a detector from ``"package.module:factory"``: import the module, call ``factory()``.

    Raises:
        InputError: a malformed spec, a module or factory that cannot be found, or a factory
            that does not return a callable.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InputError(f"detector {spec!r} must be 'module:factory', e.g. my_detector:make_detector")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InputError(f"cannot import detector module {module_name!r} ({err}); is it on PYTHONPATH?") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise InputError(f"module {module_name!r} has no callable {attribute!r}")
    detector = factory()
    if not callable(detector):
        raise InputError(f"{spec}() returned {type(detector).__name__}, not a callable detector")
    return detector


def run_detector(detector: Callable[[np.ndarray], np.ndarray], frame: np.ndarray,
                 min_score: float = 0.0) -> Detections:
    """Call ``detector`` on one frame and check its (N, 5) output; boxes under ``min_score`` go."""
    out = np.asarray(detector(frame), dtype=np.float64)
    if out.size == 0:
        return no_detections()
    if out.ndim != 2 or out.shape[1] not in (4, 5):
        raise InputError(f"the detector returned shape {out.shape}; it must return (N, 5) x1, y1, x2, y2, score")
    scores = out[:, 4] if out.shape[1] == 5 else np.ones(len(out))
    keep = (scores >= min_score) & (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1]) & np.isfinite(out).all(1)
    return Detections(out[keep, :4], scores[keep])


# ---------------------------------------------------------------------------------------------
# several people: stable track ids


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), x1, y1, x2, y2 → (N, M)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def keypoint_oks(a: np.ndarray, b: np.ndarray, min_confidence: float = 0.2) -> np.ndarray:
    """COCO object keypoint similarity of (N, 17, 3) with (M, 17, 3) keypoints → (N, M).

    The area is that of ``b``'s tight keypoint box; joints below ``min_confidence`` in either
    set do not count, and a pair with no joint in common scores 0.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape[1:] != (17, 3) or b.shape[1:] != (17, 3):
        raise ValueError(f"OKS needs COCO-17 keypoints (N, 17, 3), got {a.shape} and {b.shape}")
    ok_a = (np.nan_to_num(a[..., 2]) >= min_confidence) & np.isfinite(a[..., :2]).all(-1)
    ok_b = (np.nan_to_num(b[..., 2]) >= min_confidence) & np.isfinite(b[..., :2]).all(-1)
    xy_b = np.where(ok_b[..., None], b[..., :2], np.nan)
    with warnings.catch_warnings():  # a person without confident joints is an all-NaN slice
        warnings.simplefilter("ignore", RuntimeWarning)
        span = np.nanmax(xy_b, 1) - np.nanmin(xy_b, 1)  # (M, 2)
    area = np.nan_to_num(span[:, 0] * span[:, 1], nan=0.0) + np.spacing(1)
    d2 = ((np.nan_to_num(a[:, None, :, :2]) - np.nan_to_num(b[None, :, :, :2])) ** 2).sum(-1)  # (N, M, 17)
    var = (2 * COCO_OKS_SIGMAS) ** 2
    sim = np.exp(-d2 / (2 * area[None, :, None] * var))
    both = ok_a[:, None, :] & ok_b[None, :, :]
    count = both.sum(-1)
    return np.where(count > 0, (sim * both).sum(-1) / np.maximum(count, 1), 0.0)


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    keypoints: np.ndarray | None
    last_frame: int
    velocity: np.ndarray | None = None  # (4,) pixels per frame


@dataclass
class IoUTracker:
    """Frame-to-frame matching of people to tracks (Hungarian, ``scipy.optimize``).

    Each frame, every (person, live track) pair gets a similarity: the larger of the IoU with the
    track's box moved on by its velocity and, when both have COCO-17 keypoints, OKS. The
    assignment with the largest total similarity is taken, one person per track, keeping pairs
    whose IoU or OKS reaches its threshold; unmatched people start new tracks. A track not seen for more than
    ``max_gap`` frames is closed.

    Attributes:
        iou_threshold: lowest IoU that continues a track.
        oks_threshold: lowest OKS that continues a track.
        max_gap: frames a track may be missing and still be continued.
    """

    iou_threshold: float = 0.3
    oks_threshold: float = 0.5
    max_gap: int = 30
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0

    def update(self, frame: int, boxes: np.ndarray, keypoints: np.ndarray | None = None) -> np.ndarray:
        """Assign track ids to this frame's people.

        Args:
            frame: the frame index (increasing).
            boxes: (N, 4) pixels x1, y1, x2, y2.
            keypoints: optional (N, J, 3) pixels and confidence (OKS for J = 17).

        Returns:
            (N,) int64 track ids.
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self._tracks = [t for t in self._tracks if frame - t.last_frame <= self.max_gap]
        ids = np.full(len(boxes), -1, np.int64)
        if len(boxes) and self._tracks:
            from scipy.optimize import linear_sum_assignment

            score, allowed = self._similarity(boxes, keypoints, frame)
            # Hungarian matching: the assignment with the largest total similarity, allowed pairs only.
            people, tracks = linear_sum_assignment(np.where(allowed, -score, 1e6))
            for p, t in zip(people, tracks):
                if allowed[p, t]:
                    ids[p] = self._tracks[t].track_id
        for p in range(len(boxes)):
            if ids[p] < 0:
                ids[p] = self._next_id
                self._next_id += 1
                self._tracks.append(_Track(int(ids[p]), boxes[p], None, frame))
            track = next(t for t in self._tracks if t.track_id == ids[p])
            if track.last_frame < frame:  # box motion per frame, for the prediction
                step = (boxes[p] - track.box) / (frame - track.last_frame)
                track.velocity = step if track.velocity is None else 0.5 * (track.velocity + step)
            track.box, track.last_frame = boxes[p], frame
            track.keypoints = None if keypoints is None else np.asarray(keypoints[p], np.float64)
        return ids

    def _similarity(self, boxes: np.ndarray, keypoints: np.ndarray | None,
                    frame: int) -> tuple[np.ndarray, np.ndarray]:
        """(N, T) ranking score and whether each pair may match: max(IoU, OKS), and IoU or OKS
        above its threshold (OKS only where both sides have COCO-17 keypoints). A track's box
        is moved on by its recent velocity over the frames since it was seen."""
        predicted = np.stack([t.box + (0 if t.velocity is None else t.velocity * (frame - t.last_frame))
                              for t in self._tracks])
        iou = box_iou(boxes, predicted)
        score, allowed = iou.copy(), iou >= self.iou_threshold
        if keypoints is not None and np.shape(keypoints)[1:] == (17, 3):
            for t, track in enumerate(self._tracks):
                if track.keypoints is not None:
                    oks = keypoint_oks(keypoints, track.keypoints[None])[:, 0]
                    score[:, t] = np.maximum(score[:, t], oks)
                    allowed[:, t] |= oks >= self.oks_threshold
        return score, allowed


def track_summary(valid: np.ndarray, track_ids: np.ndarray, frame_indices: np.ndarray) -> tuple[dict, str]:
    """How many people were tracked and for how long, for ``run.json`` and the summary.

    Args:
        valid: (T, P) bool, person p seen in frame row t.
        track_ids: (P,) int track ids.
        frame_indices: (T,) int video frame numbers.

    Returns:
        (report, line): ``report`` holds ``count``, ``frames`` (T) and ``tracks``, one
        ``{"id", "frames", "first_frame", "last_frame"}`` per track, longest first; ``line`` is one
        line for the summary.
    """
    valid = np.asarray(valid, bool)
    counts = valid.sum(0)
    tracks = []
    for p in np.argsort(-counts, kind="stable"):
        rows = np.flatnonzero(valid[:, p])
        if len(rows):
            tracks.append({"id": int(track_ids[p]), "frames": int(len(rows)),
                           "first_frame": int(frame_indices[rows[0]]), "last_frame": int(frame_indices[rows[-1]])})
    report = {"count": len(tracks), "frames": int(valid.shape[0]), "tracks": tracks}
    if not tracks:
        return report, f"tracks: nobody in {valid.shape[0]} frames"
    if len(tracks) == 1:
        only = tracks[0]
        return report, (f"tracks: 1 person, in {only['frames']} of {valid.shape[0]} frames "
                        f"({only['first_frame']}-{only['last_frame']})")
    lengths = np.array([t["frames"] for t in tracks])
    top = tracks[0]
    return report, (f"tracks: {len(tracks)} people over {valid.shape[0]} frames; frames each: longest {top['frames']} "
                    f"(track {top['id']}, frames {top['first_frame']}-{top['last_frame']}), median "
                    f"{float(np.median(lengths)):g}, {int((lengths >= 5).sum())} in 5 or more; each in run.json "
                    "(tracks)")
