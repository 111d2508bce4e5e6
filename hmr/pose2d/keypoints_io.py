"""2D keypoint files: our ``keypoints2d.npz``, COCO keypoint JSON and OpenPose JSON folders.

Everything is read into one ``Keypoints2D`` (DESIGN.md's schema), so the stages after HRNet do
not care where keypoints came from. Coordinates are pixels of the original frame; a missing
joint is NaN with confidence 0, and a missing person is NaN everywhere with ``valid`` False.

    kp = load_keypoints_file("run/keypoints2d.npz")           # ours
    kp = load_keypoints_file("detections.json", image_size=(1920, 1080), fps=30)  # COCO results
    kp = load_keypoints_file("openpose_json/")                 # OpenPose BODY_25 folder
    save_coco_keypoints("results.json", kp)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from body_models.atomic import write_json
from body_models.errors import InputError, MissingFileError
from body_models.sequences import (  # noqa: F401 (Keypoints2D and its file live in body_models; re-exported)
    Keypoints2D, empty_keypoints, load_keypoints2d, plausible_keypoints, save_keypoints2d)

__all__ = [  # the Keypoints2D names are body_models.sequences', re-exported
    "Keypoints2D",
    "boxes_from_keypoints",
    "empty_keypoints",
    "load_coco_keypoints",
    "load_keypoints2d",
    "load_keypoints_file",
    "load_openpose_folder",
    "plausible_keypoints",
    "save_coco_keypoints",
    "save_keypoints2d",
    "save_vp3d_custom",
]


def boxes_from_keypoints(keypoints: np.ndarray, min_confidence: float = 0.0) -> np.ndarray:
    """(..., J, 3) keypoints → (..., 4) tight boxes x1, y1, x2, y2 over joints with confidence
    above ``min_confidence``; NaN where no joint qualifies."""
    ok = (keypoints[..., 2] > min_confidence) & np.isfinite(keypoints[..., :2]).all(-1)
    x = np.where(ok, keypoints[..., 0], np.nan)
    y = np.where(ok, keypoints[..., 1], np.nan)
    with warnings.catch_warnings():  # a missing person is an all-NaN slice, and that is expected
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack([np.nanmin(x, -1), np.nanmin(y, -1), np.nanmax(x, -1), np.nanmax(y, -1)], -1).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# our keypoints2d.npz


# ---------------------------------------------------------------------------------------------
# COCO keypoint JSON


def load_coco_keypoints(path: str | os.PathLike, image_size: tuple[int, int] | None = None,
                        fps: float = 0.0) -> Keypoints2D:
    """Read COCO-17 keypoints: a results file (a list of ``{image_id, keypoints, score}``) or an
    annotation file (``{"images": [...], "annotations": [...]}``).

    Frames are the distinct image ids in increasing order (annotation files: the ``images``
    order). People in a frame are ordered by ``track_id`` when the records carry one (PoseTrack
    style), else by descending score; tracking across frames is left to the tracker.

    Args:
        path: the JSON file.
        image_size: (width, height) pixels; read from annotation files, required otherwise for
            stages that need it (the lifter's normalisation).
        fps: frames per second, if known.
    """
    path = _existing(path)
    data = _read_json(path)
    if isinstance(data, dict) and "annotations" in data:
        images, records = data.get("images", []), data["annotations"]
        if not isinstance(images, list) or not isinstance(records, list):
            raise InputError(f"{path}: 'images' and 'annotations' must be lists; expected a COCO annotation file")
        order = ([_record_field(im, "id", path, "an image") for im in images]
                 or sorted({_record_field(r, "image_id", path) for r in records}, key=_sort_key))
        sizes = {(im.get("width"), im.get("height")) for im in images if "width" in im}
        if image_size is None and len(sizes) == 1:
            image_size = tuple(int(v) for v in sizes.pop())
        annotation_file = True
    elif isinstance(data, list):
        records, annotation_file = data, False
        order = sorted({_record_field(r, "image_id", path) for r in records}, key=_sort_key)
    else:
        raise InputError(f"{path} is neither a COCO results list nor a COCO annotation file")
    frame_of = {image_id: i for i, image_id in enumerate(order)}
    per_frame: dict[int, list[tuple[float, int, np.ndarray]]] = {i: [] for i in range(len(order))}
    for r in records:
        if r.get("category_id", 1) != 1:
            continue
        values = _numbers(_record_field(r, "keypoints", path), path, "keypoints")
        if values.shape != (51,):
            raise InputError(f"{path}: a record has {values.size} keypoint values; COCO-17 has 51 (x, y, v per joint)")
        joints = values.reshape(17, 3)
        if annotation_file:  # visibility flags 0/1/2 -> confidence 0/1
            joints[:, 2] = (joints[:, 2] > 0).astype(np.float64)
        score = float(_numbers([r.get("score", joints[:, 2].mean())], path, "score")[0])
        key = r.get("track_id")
        frame = frame_of.get(_record_field(r, "image_id", path))
        if frame is not None:
            per_frame[frame].append((-score if key is None else float(key), len(per_frame[frame]), joints))
    return _assemble(per_frame, "coco_17", image_size, fps, np.asarray(order) if _all_int(order) else None, path)


def save_coco_keypoints(path: str | os.PathLike, kp: Keypoints2D, image_ids=None) -> Path:
    """Write COCO keypoint results JSON (``image_id``, ``category_id`` 1, ``keypoints`` with
    confidences, ``score``, ``track_id``), one record per valid person and frame.

    The score is the mean of the joint confidences above 0.2, as HRNet scores its COCO results.
    ``image_ids`` (T,) defaults to the frame indices.
    """
    coco = kp.to_joint_set("coco_17")
    ids = coco.frame_indices if image_ids is None else np.asarray(image_ids)
    records = []
    for t in range(coco.num_frames):
        for p in range(coco.num_people):
            if not coco.valid[t, p]:
                continue
            joints = np.nan_to_num(coco.keypoints[t, p].astype(np.float64), nan=0.0)
            confident = joints[:, 2][joints[:, 2] > 0.2]
            records.append({"image_id": int(ids[t]), "category_id": 1,
                            "keypoints": [round(float(v), 3) for v in joints.reshape(-1)],
                            "score": float(confident.mean()) if confident.size else 0.0,
                            "track_id": int(coco.track_ids[p])})
    return write_json(path, records)


# ---------------------------------------------------------------------------------------------
# OpenPose JSON folders

_OPENPOSE_FRAME = re.compile(r"(\d+)_keypoints\.json$")


def load_openpose_folder(path: str | os.PathLike, image_size: tuple[int, int] | None = None,
                         fps: float = 0.0) -> Keypoints2D:
    """Read a folder of OpenPose ``*_keypoints.json`` files (BODY_25), one file per frame.

    Files are ordered by the frame number in their names (``video_000000000012_keypoints.json``),
    else by name. People keep OpenPose's ``person_id`` when it is set (tracking builds), else
    they are ordered by mean confidence.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise MissingFileError(f"OpenPose folder not found: {folder}")
    files = sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json"))
    if not files:
        raise InputError(f"{folder} holds no OpenPose *_keypoints.json files")
    numbers = [_OPENPOSE_FRAME.search(f.name) for f in files]
    if all(numbers):
        pairs = sorted(zip((int(m.group(1)) for m in numbers), files))
        frame_indices, files = [n for n, _ in pairs], [f for _, f in pairs]
    else:
        frame_indices = list(range(len(files)))
    per_frame: dict[int, list[tuple[float, int, np.ndarray]]] = {}
    for t, file in enumerate(files):
        data = _read_json(file)
        people = data.get("people") if isinstance(data, dict) else None
        if people is None:
            raise InputError(f"{file} is not an OpenPose keypoints file (no 'people' list)")
        per_frame[t] = []
        for person in people:
            values = _numbers(person.get("pose_keypoints_2d", []) if isinstance(person, dict) else None,
                              file, "pose_keypoints_2d")
            if values.size == 54:
                raise InputError(f"{file} holds OpenPose COCO-18 keypoints; re-run OpenPose with the BODY_25 model")
            if values.size != 75:
                raise InputError(f"{file}: pose_keypoints_2d has {values.size} values; BODY_25 has 75")
            joints = values.reshape(25, 3)
            pid = person.get("person_id", -1)
            pid = pid[0] if isinstance(pid, list) and pid else pid
            key = float(pid) if isinstance(pid, (int, float)) and pid >= 0 else -float(joints[:, 2].mean())
            per_frame[t].append((key, len(per_frame[t]), joints))
    return _assemble(per_frame, "openpose_25", image_size, fps, np.asarray(frame_indices), folder)


# ---------------------------------------------------------------------------------------------


def load_keypoints_file(path: str | os.PathLike, image_size: tuple[int, int] | None = None,
                        fps: float = 0.0) -> Keypoints2D:
    """Read any supported 2D keypoints input: our ``.npz``, a COCO ``.json`` or an OpenPose folder."""
    path = Path(path)
    if path.is_dir():
        return load_openpose_folder(path, image_size=image_size, fps=fps)
    if path.suffix.lower() == ".npz":
        return load_keypoints2d(path)
    if path.suffix.lower() == ".json":
        return load_coco_keypoints(path, image_size=image_size, fps=fps)
    _existing(path)
    raise InputError(f"{path}: unknown keypoints format; give a keypoints2d.npz, a COCO .json or an OpenPose folder")


def _assemble(per_frame: dict[int, list[tuple[float, int, np.ndarray]]], joint_set: str,
              image_size, fps: float, frame_indices, path: Path) -> Keypoints2D:
    """Stack per-frame people (sorted by key) into (T, P, J, 3); zero confidence → NaN x, y."""
    num_frames = len(per_frame)
    num_people = max((len(v) for v in per_frame.values()), default=0)
    kp = empty_keypoints(num_frames, max(num_people, 1), joint_set)
    for t, people in per_frame.items():
        for p, (_, _, joints) in enumerate(sorted(people, key=lambda item: item[:2])):
            joints = joints.astype(np.float32).copy()
            joints[joints[:, 2] <= 0, :2] = np.nan
            joints[joints[:, 2] <= 0, 2] = 0.0
            kp.keypoints[t, p] = joints
            kp.valid[t, p] = bool((joints[:, 2] > 0).any())
    kp.keypoints[:] = plausible_keypoints(kp.keypoints, image_size or (0, 0), path)
    kp.valid[:] &= (kp.keypoints[..., 2] > 0).any(-1)
    kp.boxes[:] = boxes_from_keypoints(kp.keypoints)
    kp.keypoints[~kp.valid] = np.nan
    kp.keypoints[~kp.valid, :, 2] = 0.0
    return dataclasses.replace(
        kp, frame_indices=kp.frame_indices if frame_indices is None else np.asarray(frame_indices, np.int64),
        image_size=tuple(int(v) for v in image_size) if image_size is not None else (0, 0), fps=float(fps))


def _all_int(values) -> bool:
    return all(isinstance(v, (int, np.integer)) for v in values)


def _record_field(record, key: str, path: Path, what: str = "a record"):
    if not isinstance(record, dict) or key not in record:
        raise InputError(f"{path}: {what} has no {key!r}; expected COCO keypoint results or annotations")
    value = record[key]
    if key in ("id", "image_id") and not isinstance(value, (int, str)) or isinstance(value, bool):
        raise InputError(f"{path}: {what} has {key} {value!r}; image ids are integers or strings")
    return value


def _sort_key(image_id):
    return (isinstance(image_id, str), image_id)


def _numbers(values, path: Path, name: str) -> np.ndarray:
    """A JSON list of numbers as float64, or a one-line error (strings, nulls, nesting)."""
    if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        shown = values if not isinstance(values, list) else next(
            (v for v in values if not isinstance(v, (int, float)) or isinstance(v, bool)), None)
        raise InputError(f"{path}: {name} must be a list of numbers; found {shown!r:.40}")
    return np.asarray(values, dtype=np.float64)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"keypoints file not found: {path}")
    return path


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path} is not valid JSON ({err})") from None


# ---------------------------------------------------------------------------------------------
# VideoPose3D's custom 2D layout


def save_vp3d_custom(path: str | os.PathLike, kp: Keypoints2D, person: int = 0, video_name: str = "video",
                     with_confidence: bool = False) -> Path:
    """Write one tracked person as VideoPose3D's ``data_2d_custom_<name>.npz`` (COCO-17 layout).

    The lifter needs every joint of every frame: a joint missing in a frame where the person
    was found is filled as ``hmr lift`` fills it (``lifting.filling``: its offset from the hips
    interpolated in time, or, never seen, the mean of that frame's other joints); frames where
    the person is missing are filled by ``lifting.filling.fill_missing_frames``.

    Args:
        path: the output file; VideoPose3D's ``run.py -d custom -k <name>`` reads
            ``data/data_2d_custom_<name>.npz``.
        kp: keypoints of any joint set that can provide COCO-17.
        person: index along P.
        video_name: the key under which the sequence is stored (``--viz-subject``).
        with_confidence: keep the confidence as a third channel.
    """
    from lifting.data import custom_from_keypoints2d, save_custom_2d
    from lifting.filling import HIP_ANCHOR, fill_missing_joints

    coco = kp.to_joint_set("coco_17")
    found = coco.valid[:, person] if 0 <= person < coco.num_people else np.zeros(coco.num_frames, bool)
    if not found.any():
        raise InputError(f"person {person} is never found in these keypoints; nothing to export for VideoPose3D")
    keypoints = coco.keypoints.copy()
    seen = found[:, None] & np.isfinite(keypoints[:, person, :, :2]).all(-1)  # (T, J)
    filled = fill_missing_joints(keypoints[:, person], seen, HIP_ANCHOR["coco"])  # the lifter's own filling
    filled[~found] = np.nan  # frames without the person: fill_missing_frames' part, below
    keypoints[:, person] = filled
    arrays = {"keypoints": keypoints, "valid": coco.valid, "image_size": np.asarray(coco.image_size)}
    sequence, size = custom_from_keypoints2d(arrays, person=person, with_confidence=with_confidence)
    return save_custom_2d(path, {video_name: sequence}, {video_name: size}, layout="coco")

