"""Keypoint evaluation on COCO-format data: OKS AP/AR (pycocotools), PCK@0.05 and pixel error.

    hmr eval coco-keypoints data/person_keypoints_val.json --images data/images --checkpoint hrnet.pt

People are cropped from their ground-truth boxes, or from a detections file (COCO results
format: ``image_id``, ``bbox`` x, y, w, h, ``score``). AP and AR come from pycocotools'
``COCOeval`` with the keypoint OKS; PCK and the pixel error need a ground-truth person per crop,
so they are reported for ground-truth boxes only.

- mean pixel error: the mean over labelled joints (v > 0) of the distance between prediction
  and truth, image pixels;
- PCK@0.05: the fraction of labelled joints within 0.05 × the longer side of the person's
  ground-truth box.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from body_models.cameras import box_to_center_scale
from body_models.errors import InputError, MissingFileError
from hmr.core.imagenet import normalize_images
from hmr.pose2d.data import CocoKeypoints, read_image
from hmr.pose2d.topdown import crop_people, decode_heatmaps, predict_heatmaps

__all__ = ["PCK_THRESHOLD", "coco_keypoint_ap", "evaluate_coco_keypoints", "evaluate_dataset", "keypoint_errors"]

PCK_THRESHOLD = 0.05  # of the longer side of the ground-truth box
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0


def keypoint_errors(predicted: np.ndarray, truth: np.ndarray, boxes_xywh: np.ndarray) -> dict[str, float]:
    """Mean pixel error and PCK@0.05 over labelled joints.

    Args:
        predicted: (N, J, 2+) pixels.
        truth: (N, J, 3) pixels x, y and COCO visibility (v > 0 counts).
        boxes_xywh: (N, 4) ground-truth boxes, pixels.

    Returns:
        {"mean_px_error": pixels, "pck": fraction in [0, 1], "num_joints": labelled joints}.
    """
    labelled = truth[..., 2] > 0
    error = np.linalg.norm(predicted[..., :2] - truth[..., :2], axis=-1)  # (N, J)
    size = np.maximum(boxes_xywh[:, 2], boxes_xywh[:, 3])[:, None]  # (N, 1)
    count = int(labelled.sum())
    if count == 0:
        return {"mean_px_error": float("nan"), "pck": float("nan"), "num_joints": 0}
    return {"mean_px_error": float(error[labelled].mean()),
            "pck": float((error < PCK_THRESHOLD * size)[labelled].mean()), "num_joints": count}


@torch.no_grad()
def evaluate_dataset(model: torch.nn.Module, dataset: CocoKeypoints, max_people: int | None = None,
                     device: torch.device | str = "cpu", flip: bool = False, batch_size: int = 32,
                     refine: str | None = None, loss_fn: Callable | None = None) -> dict[str, Any]:
    """Predict every person of ``dataset`` from its ground-truth box and score the predictions.

    Args:
        model: an HRNet (its ``config.head`` picks the decoder).
        dataset: a ``CocoKeypoints`` without augmentation.
        max_people: only the first this many people.
        flip: the flip test (needs the dataset's flip pairs).
        refine: None or "dark".
        loss_fn: (output, batch) → loss, to report the training loss too (without flip).

    Returns:
        ``keypoint_errors`` plus ``loss`` (NaN without ``loss_fn``) and ``predictions``
        (N, J, 3) image pixels x, y, confidence.
    """
    from hmr.pose2d.topdown import dark_kernel_for

    was_training = model.training
    model.eval()
    n = len(dataset) if max_people is None else min(len(dataset), int(max_people))
    perm = [b for a, b in sorted(_flip_perm(dataset.flip_pairs, model.config.num_joints).items())] if flip else None
    predictions, losses = [], []
    for start in range(0, n, batch_size):
        items = [dataset[i] for i in range(start, min(n, start + batch_size))]
        batch = {k: torch.stack([item[k] for item in items]) for k in items[0]}
        images = batch["image"].to(device)
        if loss_fn is not None:
            losses.append(float(loss_fn(model(images).float(), batch)) * len(items))
        heatmaps = predict_heatmaps(model, images, flip=flip, flip_perm=perm).float().cpu()
        predictions.append(decode_heatmaps(heatmaps, batch["center"].numpy(), batch["scale"].numpy(), refine=refine,
                                           dark_kernel=dark_kernel_for(model.config.sigma), head=model.config.head))
    model.train(was_training)
    predicted = np.concatenate(predictions) if predictions else np.zeros((0, model.config.num_joints, 3))
    truth = np.stack([p.keypoints for p in dataset.people[:n]])
    boxes = np.stack([p.box for p in dataset.people[:n]])
    out = keypoint_errors(predicted, truth, boxes)
    out["loss"] = sum(losses) / n if losses else float("nan")
    out["predictions"] = predicted
    return out


def _flip_perm(pairs: Sequence[Sequence[int]], num_joints: int) -> dict[int, int]:
    perm = {j: j for j in range(num_joints)}
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


def coco_keypoint_ap(annotations: str | os.PathLike, results: list[dict], sigmas: np.ndarray | None = None
                     ) -> dict[str, float]:
    """OKS AP and AR of keypoint ``results`` against a COCO keypoint JSON, by pycocotools.

    Args:
        annotations: the ground-truth JSON.
        results: COCO results, each ``{"image_id", "category_id": 1, "keypoints": [x, y, v]*J, "score"}``.
        sigmas: (J,) per-joint OKS constants; COCO's for 17 joints, 0.05 each otherwise.

    Returns:
        {"AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"} (fractions; −1
        where pycocotools has no ground truth of that size).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        raise InputError("no keypoint predictions to evaluate")
    num_joints = len(results[0]["keypoints"]) // 3
    if sigmas is None:
        sigmas = COCO_SIGMAS if num_joints == 17 else np.full(num_joints, 0.05)
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        detections = truth.loadRes(results)
        evaluator = COCOeval(truth, detections, "keypoints")
        evaluator.params.useSegm = None
        evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    names = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
    return {name: float(v) for name, v in zip(names, evaluator.stats)}


def _detections(path: Path, image_ids: set) -> dict[int, list[dict]]:
    if not path.is_file():
        raise MissingFileError(f"detections file not found: {path}")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{path}: not valid JSON; expected COCO detection results") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and {"image_id", "bbox"} <= set(r) for r in rows):
        raise InputError(f"{path}: expected a list of COCO detections with image_id and bbox (x, y, w, h)")
    out: dict[int, list[dict]] = {}
    for row in rows:
        if row.get("category_id", 1) == 1 and row["image_id"] in image_ids:
            out.setdefault(row["image_id"], []).append(row)
    return out


@torch.no_grad()
def evaluate_coco_keypoints(annotations: str | os.PathLike, images: str | os.PathLike, model: torch.nn.Module,
                            detections: str | os.PathLike | None = None, flip: bool = True,
                            flip_pairs: Sequence[Sequence[int]] = (), refine: str | None = None,
                            batch_size: int = 32, device: str = "cpu") -> dict[str, Any]:
    """``hmr eval coco-keypoints``: AP/AR by pycocotools, and PCK and pixel error (ground-truth boxes).

    Returns:
        the AP/AR fields, ``mean_px_error`` and ``pck`` (NaN with detections), ``num_people``,
        and ``results`` (the COCO results list that was scored).
    """
    from hmr.pose2d.topdown import dark_kernel_for

    config = model.config
    if not flip_pairs and config.num_joints == 17:
        from body_models.joints import COCO_17

        flip_pairs = [(a, b) for a, b in enumerate(COCO_17.flip_perm) if a < b]
    if flip and not flip_pairs:
        raise InputError(f"the flip test needs the left/right pairs of this {config.num_joints}-joint model; "
                         "pass --no-flip")
    dataset = CocoKeypoints(annotations, images, config.image_size, config.heatmap_size, config.sigma, flip_pairs,
                            None, 0, config.num_joints)
    model = model.to(device).eval()
    results: list[dict] = []
    metrics: dict[str, Any] = {}
    if detections is None:
        scored = evaluate_dataset(model, dataset, device=device, flip=flip, batch_size=batch_size, refine=refine)
        for person, kp in zip(dataset.people, scored["predictions"]):
            results.append(_result(person.image_id, kp, 1.0))
        metrics.update(mean_px_error=scored["mean_px_error"], pck=scored["pck"])
        metrics["num_people"] = len(dataset)
    else:
        by_image = {p.image_id: p.image for p in dataset.people}
        found = _detections(Path(detections), set(by_image))
        perm = [b for _, b in sorted(_flip_perm(flip_pairs, config.num_joints).items())] if flip else None
        for image_id, rows in sorted(found.items()):
            frame = read_image(by_image[image_id])
            boxes = np.array([[r["bbox"][0], r["bbox"][1], r["bbox"][0] + r["bbox"][2], r["bbox"][1] + r["bbox"][3]]
                              for r in rows], np.float64)
            crops = crop_people(frame, boxes, config.image_size)
            heatmaps = predict_heatmaps(model, normalize_images(crops.images, device), flip=flip, flip_perm=perm)
            kps = decode_heatmaps(heatmaps.float().cpu(), crops.center, crops.scale, refine=refine,
                                  dark_kernel=dark_kernel_for(config.sigma), head=config.head)
            for row, kp in zip(rows, kps):
                results.append(_result(image_id, kp, float(row.get("score", 1.0))))
        metrics.update(mean_px_error=float("nan"), pck=float("nan"), num_people=len(results))
    metrics.update(coco_keypoint_ap(annotations, results))
    metrics["results"] = results
    return metrics


def _result(image_id: int, keypoints: np.ndarray, box_score: float) -> dict:
    """A COCO keypoint result; its score is the box score times the mean joint confidence."""
    confidence = np.clip(keypoints[:, 2], 0, None)
    flat = np.concatenate([keypoints[:, :2], np.ones((len(keypoints), 1))], 1).reshape(-1)
    return {"image_id": int(image_id), "category_id": 1, "keypoints": [round(float(v), 3) for v in flat],
            "score": float(box_score * confidence.mean())}


def score_keypoint_sequence(predicted: np.ndarray, valid: np.ndarray, truth: np.ndarray,
                            boxes_xyxy: np.ndarray) -> dict[str, float]:
    """Keypoints of a clip against its ground truth (the demo's score).

    The predicted track that lies closest to the truth on average is scored. A joint the model
    did not give (NaN, or a frame without the person) counts against PCK and is left out of the
    pixel error; ``detected`` says which fraction was given.

    Args:
        predicted: (T, P, J, 3) pixels x, y, confidence (``keypoints2d.npz``).
        valid: (T, P) the person was found.
        truth: (T, J, 3) pixels x, y and visibility (> 0: scored).
        boxes_xyxy: (T, 4) ground-truth boxes, pixels (PCK's size: the longer side).

    Returns:
        {"mean_px_error", "pck" (fraction), "detected" (fraction)}.
    """
    predicted = np.where(valid[..., None, None], predicted, np.nan)
    scored = truth[..., 2] > 0  # (T, J)
    errors = np.linalg.norm(predicted[..., :2] - truth[:, None, :, :2], axis=-1)  # (T, P, J)
    best = int(np.nanargmin([np.nanmean(np.where(scored, errors[:, p], np.nan)) if np.isfinite(errors[:, p][scored]).any()
                             else np.inf for p in range(errors.shape[1])])) if errors.shape[1] else 0
    error = errors[:, best] if errors.shape[1] else np.full(scored.shape, np.nan)
    size = np.maximum(boxes_xyxy[:, 2] - boxes_xyxy[:, 0], boxes_xyxy[:, 3] - boxes_xyxy[:, 1])[:, None]
    given = np.isfinite(error) & scored
    if not scored.any():
        return {"mean_px_error": float("nan"), "pck": float("nan"), "detected": float("nan")}
    hit = np.where(given, error < PCK_THRESHOLD * size, False)
    return {"mean_px_error": float(error[given].mean()) if given.any() else float("nan"),
            "pck": float(hit[scored].mean()), "detected": float(given.sum() / scored.sum())}
