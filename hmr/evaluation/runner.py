"""Streaming evaluation of the mesh regressor, with per-sequence result files and resume.

The benchmark adapters (``h36m_mesh``, ``pw3d``, ``mpi_inf_3dhp``) turn the published files into
``SequenceSpec`` units: image names, SPIN boxes (center, scale) and the ground truth. The
``MeshEvaluator`` streams each sequence through crop → regressor → neutral SMPL → Human3.6M
regressor in batches of ``batch_size`` images (so memory is one batch of crops plus one
sequence of joints), optionally refines each batch with SMPLify, and writes
``<out>/sequences/<key>.npz`` atomically when the sequence is complete. A second run with the
same fingerprint (checkpoint, body model, SMPLify settings) skips the sequences already written.

Joint convention (SPIN's ``eval.py``, FORMATS §3.10): the evaluation joints are rows of the
Human3.6M regressor applied to the mesh; both prediction and ground truth are made relative to
regressor row 0 (the pelvis) before the subset is taken. PVE (3DPW) is the mean vertex distance
after the same pelvis centring of both meshes, the ground-truth mesh from the gender-specific
model.

``evaluate_benchmark`` is the one entry point the CLI calls; it picks the adapter and writes the
report and ``run.json``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import contained_path, save_npz
from body_models.errors import InputError, MissingFileError
from body_models.smpl import SMPL

FORMAT_VERSION = 1
"""Version of the per-sequence result files; a different version is recomputed."""


@dataclass(frozen=True)
class JointProtocol:
    """Which joints a benchmark scores, as rows of ``SMPLOutput.h36m`` (VideoPose3D order).

    Attributes:
        name: e.g. ``"lsp_14"`` or ``"spin_eval_17"``.
        joint_names: (J,) names in the order of the evaluation arrays.
        h36m_rows: (J,) indices into the 17 Human3.6M regressor joints (``joints.H36M_17``).
    """

    name: str
    joint_names: tuple[str, ...]
    h36m_rows: tuple[int, ...]


LSP_14_PROTOCOL = JointProtocol("spin_eval_14", js.SPIN_EVAL_17[:14],
                                 js.index_map(js.H36M_17, js.SPIN_24, js.SPIN_EVAL_17[:14]))
"""SPIN's H36M_TO_J14 / J24_TO_J14 (Human3.6M and 3DPW): the 13 LSP joints up to the neck and the
H36M head. SPIN's ``J24_TO_J14`` is ``J24_TO_J17[:14]``, whose last entry is slot 18 (H36M head),
not LSP's head top (its Human3.6M ground truth has no head top)."""

SPIN_EVAL_17_PROTOCOL = JointProtocol("spin_eval_17", js.SPIN_EVAL_17,
                                      js.index_map(js.H36M_17, js.SPIN_24, js.SPIN_EVAL_17))
"""SPIN's H36M_TO_J17 (MPI-INF-3DHP): the LSP joints to the neck, head, pelvis, spine, jaw."""


@dataclass(frozen=True)
class SequenceSpec:
    """One unit of work, predicted and stored as a whole (the resume granularity).

    Attributes:
        key: file-safe identifier, e.g. ``"S9_Directions_1.54138969"``.
        group: the row of the per-group table it belongs to (action, activity or sequence).
        imgnames: (N,) image paths relative to the image root.
        center: (N, 2) SPIN box centres, pixels.
        scale: (N,) SPIN box side / 200.
        frame_ids: (N,) frame numbers within the sequence (for error over time and acceleration).
        gt_joints: (N, J, 3) metres, pelvis-relative, in the protocol's joint order; None when
            the ground truth is a body (``gt_pose``).
        gt_pose: (N, 72) axis-angle radians, root in the camera frame (3DPW), or None.
        gt_betas: (N, 10) or None.
        gender: "male" / "female" for ``gt_pose`` (3DPW), else None.
        actor: person index within the images (3DPW has two actors in some sequences).
    """

    key: str
    group: str
    imgnames: tuple[str, ...]
    center: np.ndarray
    scale: np.ndarray
    frame_ids: np.ndarray
    gt_joints: np.ndarray | None = None
    gt_pose: np.ndarray | None = None
    gt_betas: np.ndarray | None = None
    gender: str | None = None
    actor: int = 0

    def __len__(self) -> int:
        return len(self.imgnames)


@dataclass
class PredictedBodies:
    """What a predictor returns for a batch of crops.

    Attributes:
        rotmat: (B, 24, 3, 3) SMPL joint rotations; joint 0 is the global orientation.
        betas: (B, 10).
        cam: (B, 3) weak perspective (s, tx, ty) in normalised crop coordinates.
    """

    rotmat: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor


Predictor = Callable[[torch.Tensor, Sequence[str]], PredictedBodies]
"""(crops (B, 3, S, S) normalised RGB, image names (B,)) → PredictedBodies."""


def regressor_predictor(model: torch.nn.Module) -> Predictor:
    """A ``Predictor`` running an HMR regressor on the device its parameters are on."""
    parameter = next(model.parameters())

    def predict(images: torch.Tensor, imgnames: Sequence[str]) -> PredictedBodies:
        with torch.no_grad():
            out = model(images.to(device=parameter.device, dtype=parameter.dtype))
        return PredictedBodies(rotmat=out.rotmat, betas=out.betas, cam=out.cam)

    return predict


def load_crops(image_root: Path, imgnames: Sequence[str], center: np.ndarray, scale: np.ndarray,
               size: int) -> torch.Tensor:
    """Cut SPIN's square crops (center, scale) from the images and normalise them.

    Args:
        image_root: folder the names are relative to.
        imgnames: (B,) image paths.
        center: (B, 2) pixels.
        scale: (B,) box side / 200.
        size: crop side, pixels (the regressor's input size, 224 for SPIN).

    Returns:
        (B, 3, size, size) float32, ImageNet-normalised RGB.
    """
    from hmr.regressor.crops import crop_matrix, warp_crop
    from hmr.regressor.data import read_image
    from hmr.imagenet import normalize_images

    crops = []
    for name, c, s in zip(imgnames, center, scale):
        path = image_root / name
        if not path.is_file():
            raise MissingFileError(f"image {path} not found; the benchmark's images must be under "
                                   f"{image_root} as the annotation names them ({name})")
        warped = warp_crop(read_image(path), crop_matrix(c, float(s), size), size)
        crops.append(warped.round().clamp(0, 255).to(torch.uint8))
    return normalize_images(torch.stack(crops))


@dataclass
class SmplifyStage:
    """SMPLify refinement of each batch from 2D keypoints, in the crop (SPIN's camera).

    Attributes:
        smplify: an ``hmr.smplify.SMPLify`` on the neutral body.
        keypoints: (imgname, actor) → (J, 3) image pixels x, y, confidence.
        joint_set: name of the keypoints' joint set (e.g. ``"coco_17"``).
    """

    smplify: object
    keypoints: Mapping[tuple[str, int], np.ndarray]
    joint_set: str


def load_smplify_keypoints(path: str | os.PathLike) -> tuple[dict[tuple[str, int], np.ndarray], str]:
    """Read a keypoints file for SMPLify: ``imgname (N,)``, ``keypoints (N, J, 3)`` pixels,
    ``joint_set`` (a name from ``body_models.joints``), optional ``actor (N,)``."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"SMPLify keypoints file {path} not found; it holds imgname (N,), keypoints "
                               "(N, J, 3) pixels and joint_set, one row per benchmark image")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for key in ("imgname", "keypoints", "joint_set"):
        if key not in arrays:
            raise InputError(f"{path}: missing {key!r}; expected imgname (N,), keypoints (N, J, 3), joint_set")
    joint_set = str(arrays["joint_set"])
    if joint_set not in js.JOINT_SETS:
        raise InputError(f"{path}: joint_set {joint_set!r} is not one of {', '.join(js.JOINT_SETS)}")
    keypoints = np.asarray(arrays["keypoints"], dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (len(js.JOINT_SETS[joint_set]), 3):
        raise InputError(f"{path}: keypoints must be (N, {len(js.JOINT_SETS[joint_set])}, 3) for {joint_set}, "
                         f"got {keypoints.shape}")
    actors = arrays.get("actor", np.zeros(len(keypoints), dtype=np.int64))
    table = {(str(n), int(a)): k for n, a, k in zip(arrays["imgname"], actors, keypoints)}
    return table, joint_set


@dataclass
class StoredSequence:
    """One sequence's predictions and ground truth as written to ``sequences/<key>.npz``.

    Attributes:
        key, group: as in ``SequenceSpec``.
        frame_ids: (N,).
        gt_joints: (N, J, 3) metres, pelvis-relative.
        pred_joints: variant → (N, J, 3) metres, pelvis-relative ("regressor", "smplify").
        pve: variant → (N,) metres per sample, NaN where there is no ground-truth mesh.
        fitted: (N,) bool, SMPLify improved the fit (all False without SMPLify).
    """

    key: str
    group: str
    frame_ids: np.ndarray
    gt_joints: np.ndarray
    pred_joints: dict[str, np.ndarray]
    pve: dict[str, np.ndarray]
    fitted: np.ndarray

    def save(self, path: Path, fingerprint: str) -> Path:
        arrays = {"format_version": np.int64(FORMAT_VERSION), "fingerprint": np.str_(fingerprint),
                  "key": np.str_(self.key), "group": np.str_(self.group), "frame_ids": self.frame_ids,
                  "gt_joints": self.gt_joints, "fitted": self.fitted,
                  "variants": np.array(sorted(self.pred_joints), dtype=str)}
        for name in self.pred_joints:
            arrays[f"pred_joints_{name}"] = self.pred_joints[name]
            arrays[f"pve_{name}"] = self.pve[name]
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> "StoredSequence | None":
        """The stored sequence, or None when the file is unreadable or from other settings."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError):
            return None
        if int(arrays.get("format_version", -1)) != FORMAT_VERSION or str(arrays.get("fingerprint")) != fingerprint:
            return None
        variants = [str(v) for v in arrays["variants"]]
        return cls(key=str(arrays["key"]), group=str(arrays["group"]), frame_ids=arrays["frame_ids"],
                   gt_joints=arrays["gt_joints"], fitted=arrays["fitted"],
                   pred_joints={v: arrays[f"pred_joints_{v}"] for v in variants},
                   pve={v: arrays[f"pve_{v}"] for v in variants})


def _pelvis_relative(h36m: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
    """(B, 17, 3) H36M regressor joints → (B, J, 3) the protocol rows minus row 0 (pelvis)."""
    return h36m[:, list(rows)] - h36m[:, :1]


class MeshEvaluator:
    """Runs a predictor over ``SequenceSpec`` units and stores one result file per sequence.

    Args:
        protocol: the scored joints.
        predictor: crops → SMPL parameters (``regressor_predictor``, or a stand-in in tests).
        body_model: the neutral ``SMPL`` layer with ``J_regressor_h36m``.
        image_root: folder the image names are relative to.
        out_dir: the run folder; results go to ``out_dir/sequences``.
        crop_size: crop side, pixels (the regressor's input size).
        batch_size: images per forward pass.
        fingerprint: identifies the settings; stored files with another fingerprint are redone.
        gt_bodies: gender → ``SMPL`` layer for ground-truth meshes (3DPW), or None.
        smplify: optional SMPLify refinement.
        resume: reuse finished sequence files.
        progress: show a tqdm bar.
    """

    def __init__(self, protocol: JointProtocol, predictor: Predictor, body_model: SMPL, image_root: Path,
                 out_dir: Path, crop_size: int = 224, batch_size: int = 32, fingerprint: str = "",
                 gt_bodies: Mapping[str, SMPL] | None = None, smplify: SmplifyStage | None = None,
                 resume: bool = True, progress: bool = True) -> None:
        if body_model.J_regressor_h36m is None:
            raise InputError(f"body model {body_model.name} has no J_regressor_h36m; the benchmarks score joints "
                             "regressed with SPIN's J_regressor_h36m.npy (fetch_data.sh): pass --j-regressor-h36m")
        if int(batch_size) < 1:
            raise InputError(f"batch size must be a positive integer, got {batch_size!r}")
        self.protocol, self.predictor, self.body_model = protocol, predictor, body_model
        self.image_root, self.sequence_dir = Path(image_root), Path(out_dir) / "sequences"
        self.crop_size, self.batch_size, self.fingerprint = int(crop_size), int(batch_size), fingerprint
        self.gt_bodies, self.smplify, self.resume, self.progress = gt_bodies, smplify, resume, progress
        self.reused: list[str] = []
        self.computed: list[str] = []

    def run(self, sequences: Sequence[SequenceSpec]) -> list[StoredSequence]:
        """Predict every sequence not already stored; return all of them, in order."""
        from tqdm import tqdm

        stored: list[StoredSequence | None] = []
        todo = 0
        for spec in sequences:
            path = contained_path(self.sequence_dir, spec.key, ".npz")
            done = StoredSequence.load(path, self.fingerprint) if self.resume and path.is_file() else None
            stored.append(done)
            todo += 0 if done is not None else len(spec)
        with tqdm(total=todo, desc="eval", unit="img", disable=not self.progress) as bar:
            for i, spec in enumerate(sequences):
                if stored[i] is not None:
                    self.reused.append(spec.key)
                    continue
                result = self._sequence(spec, bar)
                result.save(contained_path(self.sequence_dir, spec.key, ".npz"), self.fingerprint)
                self.computed.append(spec.key)
                stored[i] = result
        return [s for s in stored if s is not None]

    def _sequence(self, spec: SequenceSpec, bar) -> StoredSequence:
        gt_parts: list[np.ndarray] = []
        pred: dict[str, list[np.ndarray]] = {"regressor": []}
        pve: dict[str, list[np.ndarray]] = {"regressor": []}
        if self.smplify is not None:
            pred["smplify"], pve["smplify"] = [], []
        fitted: list[np.ndarray] = []
        for start in range(0, len(spec), self.batch_size):
            stop = min(start + self.batch_size, len(spec))
            names = spec.imgnames[start:stop]
            images = load_crops(self.image_root, names, spec.center[start:stop], spec.scale[start:stop], self.crop_size)
            bodies = self.predictor(images, names)
            gt_joints, gt_vertices = self._ground_truth(spec, start, stop)
            gt_parts.append(gt_joints)
            joints, vertices = self._pose_regressor_output(bodies)
            pred["regressor"].append(joints)
            pve["regressor"].append(self._pve(vertices, gt_vertices))
            if self.smplify is not None:
                joints, vertices, fit = self._refine(spec, start, stop, bodies)
                pred["smplify"].append(joints)
                pve["smplify"].append(self._pve(vertices, gt_vertices))
                fitted.append(fit)
            else:
                fitted.append(np.zeros(stop - start, dtype=bool))
            bar.update(stop - start)
        return StoredSequence(key=spec.key, group=spec.group, frame_ids=np.asarray(spec.frame_ids, dtype=np.int64),
                              gt_joints=np.concatenate(gt_parts).astype(np.float32),
                              pred_joints={k: np.concatenate(v).astype(np.float32) for k, v in pred.items()},
                              pve={k: np.concatenate(v) for k, v in pve.items()}, fitted=np.concatenate(fitted))

    def _regress(self, vertices: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) → (B, 17, 3) H36M joints (VideoPose3D order) with the body's regressor."""
        regressor = self.body_model.J_regressor_h36m.to(vertices)
        return torch.einsum("jv,bvc->bjc", regressor, vertices)

    def _pose_regressor_output(self, bodies: PredictedBodies) -> tuple[np.ndarray, torch.Tensor]:
        ref = self.body_model.smplx.v_template
        rotmat = bodies.rotmat.to(ref)
        with torch.no_grad():
            out = self.body_model(betas=bodies.betas.to(ref)[:, :self.body_model.num_betas],
                                  body_pose=rotmat[:, 1:], global_orient=rotmat[:, :1])
        joints = _pelvis_relative(self._regress(out.vertices), self.protocol.h36m_rows)
        return joints.cpu().numpy(), out.vertices

    def _ground_truth(self, spec: SequenceSpec, start: int, stop: int) -> tuple[np.ndarray, torch.Tensor | None]:
        if spec.gt_joints is not None:
            return np.asarray(spec.gt_joints[start:stop], dtype=np.float32), None
        if spec.gt_pose is None or self.gt_bodies is None:
            raise InputError(f"sequence {spec.key} has neither ground-truth joints nor a ground-truth body")
        body = self.gt_bodies.get(spec.gender or "neutral")
        if body is None:
            raise InputError(f"sequence {spec.key}: no {spec.gender} body model for the ground truth")
        if body.smplx.v_template.shape != self.body_model.smplx.v_template.shape:
            raise InputError(f"the {spec.gender} body model has {body.smplx.v_template.shape[0]} vertices but the "
                             f"prediction's has {self.body_model.smplx.v_template.shape[0]}; PVE needs the same mesh")
        ref = body.smplx.v_template
        pose = torch.as_tensor(np.asarray(spec.gt_pose[start:stop]), dtype=ref.dtype, device=ref.device)
        betas = torch.as_tensor(np.asarray(spec.gt_betas[start:stop]), dtype=ref.dtype, device=ref.device)
        with torch.no_grad():
            out = body(betas=betas[:, :body.num_betas], body_pose=pose[:, 3:], global_orient=pose[:, :3])
        # The same (neutral-model) H36M regressor as SPIN's eval.py uses for the ground truth.
        joints = _pelvis_relative(self._regress(out.vertices), self.protocol.h36m_rows)
        return joints.cpu().numpy(), out.vertices

    def _pve(self, vertices: torch.Tensor, gt_vertices: torch.Tensor | None) -> np.ndarray:
        """(B,) mean vertex distance in metres after pelvis centring; NaN without a GT mesh."""
        if gt_vertices is None:
            return np.full(vertices.shape[0], np.nan)
        pred = vertices - self._regress(vertices)[:, :1]
        gt = gt_vertices.to(vertices) - self._regress(gt_vertices.to(vertices))[:, :1]
        return torch.linalg.norm(pred - gt, dim=-1).mean(dim=-1).double().cpu().numpy()

    def _refine(self, spec: SequenceSpec, start: int, stop: int,
                bodies: PredictedBodies) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
        from hmr.regressor.crops import crop_matrix

        stage = self.smplify
        size = self.crop_size
        num_joints = len(js.JOINT_SETS[stage.joint_set])
        keypoints = np.zeros((stop - start, num_joints, 3))
        for row, i in enumerate(range(start, stop)):
            found = stage.keypoints.get((spec.imgnames[i], spec.actor))
            if found is None:
                continue  # no keypoints: SMPLify leaves the regressor's estimate
            matrix = crop_matrix(spec.center[i], float(spec.scale[i]), size)
            keypoints[row, :, :2] = found[:, :2] @ matrix[:2, :2].T + matrix[:2, 2]
            keypoints[row, :, 2] = found[:, 2]
        ref = self.body_model.smplx.v_template
        rotmat, cam = bodies.rotmat.to(ref), bodies.cam.to(ref)
        focal = stage.smplify.config.focal_length
        # Weak perspective to a translation with SPIN's crop camera: (tx, ty, 2 f / (S s)).
        transl = torch.stack([cam[:, 1], cam[:, 2], 2.0 * focal / (size * cam[:, 0].clamp(min=1e-6))], dim=-1)
        result = stage.smplify(torch.as_tensor(keypoints, dtype=ref.dtype), global_orient=rotmat[:, :1],
                               body_pose=rotmat[:, 1:], betas=bodies.betas.to(ref)[:, :self.body_model.num_betas],
                               transl=transl, joint_set=stage.joint_set, focal_length=focal,
                               principal_point=(size / 2.0, size / 2.0))
        vertices = result.vertices.detach()
        joints = _pelvis_relative(self._regress(vertices), self.protocol.h36m_rows)
        return joints.cpu().numpy(), vertices, result.fitted.cpu().numpy().astype(bool)


def fingerprint_of(**settings: object) -> str:
    """A short hash of the settings that change predictions (file hashes, options)."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Scoring stored sequences


def per_sample_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, J) joint errors before and after per-sample Procrustes alignment, metres."""
    from body_models.metrics import procrustes_align

    if len(pred) == 0:
        return np.zeros((0, pred.shape[1])), np.zeros((0, pred.shape[1]))
    aligned = procrustes_align(pred.astype(np.float64), gt.astype(np.float64))
    return (np.linalg.norm(pred.astype(np.float64) - gt, axis=-1),
            np.linalg.norm(aligned - gt, axis=-1))


def joint_summaries(stored: list[StoredSequence], variant: str) -> tuple[dict, dict]:
    """(per-joint MPJPE and PA-MPJPE in mm, per-sequence per-frame MPJPE in mm)."""
    errors, aligned, over_time = [], [], {}
    for seq in stored:
        err, pa = per_sample_errors(seq.pred_joints[variant], seq.gt_joints)
        errors.append(err)
        aligned.append(pa)
        over_time[seq.key] = (seq.frame_ids.tolist(), [mm(e) for e in err.mean(axis=1)])
    if not errors:
        return {}, {}
    per_joint = {"mpjpe_mm": [mm(e) for e in np.concatenate(errors).mean(axis=0)],
                 "pa_mpjpe_mm": [mm(e) for e in np.concatenate(aligned).mean(axis=0)]}
    return per_joint, over_time


def consecutive_triples(frame_ids: np.ndarray) -> np.ndarray:
    """(N − 2,) True where samples i, i+1, i+2 are consecutive frames (acceleration is defined)."""
    frame_ids = np.asarray(frame_ids)
    if len(frame_ids) < 3:
        return np.zeros(0, dtype=bool)
    step = np.diff(frame_ids) == 1
    return step[:-1] & step[1:]


def acceleration_errors(pred: np.ndarray, gt: np.ndarray, frame_ids: np.ndarray) -> np.ndarray:
    """(K,) per-triple acceleration errors (mean over joints of ‖Δ²pred − Δ²gt‖), metres/frame²,
    for the K consecutive-frame triples of one sequence (HMMR/VIBE ``compute_error_accel``)."""
    keep = consecutive_triples(frame_ids)
    if not keep.any():
        return np.zeros(0)
    accel_pred = pred[:-2] - 2.0 * pred[1:-1] + pred[2:]
    accel_gt = gt[:-2] - 2.0 * gt[1:-1] + gt[2:]
    return np.linalg.norm(accel_pred - accel_gt, axis=-1).mean(axis=-1)[keep]


def evaluate_benchmark(benchmark: str, data: str | os.PathLike, out_dir: str | os.PathLike,
                       checkpoint: str | os.PathLike, *, keypoints_2d: str | os.PathLike | None = None,
                       images: str | os.PathLike | None = None, protocol: int | None = None,
                       body_model: str | os.PathLike = "mannequin", j_regressor_h36m: str | os.PathLike | None = None,
                       mean_params: str | os.PathLike | None = None,
                       smplify_keypoints: str | os.PathLike | None = None, gmm: str | os.PathLike | None = None,
                       smplify_iters: int | None = None, batch_size: int = 32, device: str = "cpu",
                       resume: bool = True, progress: bool = True, flip: bool = True, causal: bool = False,
                       downsample: int = 1,
                       references_dir: str | os.PathLike | None = None):
    """Evaluate a checkpoint on one benchmark and write the report into ``out_dir``.

    Args:
        benchmark: ``h36m-lifter``, ``h36m-mesh``, ``3dpw``, ``mpi-inf-3dhp`` or ``world``.
        data: h36m-lifter: ``data_3d_h36m.npz``; h36m-mesh: ``h36m_valid_protocol{1,2}.npz``;
            3dpw: the 3DPW folder (with ``sequenceFiles/test``), that ``test`` folder, or SPIN's
            ``3dpw_test.npz``; mpi-inf-3dhp: the folder holding ``mpi_inf_3dhp_test_set`` (or that
            folder itself); world: ``spin/val.npz`` of ``hmr world-to-spin``.
        out_dir: report folder (``results.json``, ``results.csv``, PNGs, ``run.json``,
            ``sequences/``).
        checkpoint: VideoPose3D ``.bin`` (h36m-lifter) or SPIN's ``model_checkpoint.pt``.
        keypoints_2d: h36m-lifter only: ``data_2d_h36m_<source>.npz``.
        images: image root for the mesh benchmarks (default: next to ``data``).
        protocol: h36m-mesh: 1 or 2 (default: from the file name).
        body_model: ``"mannequin"`` or a folder with ``SMPL_{NEUTRAL,MALE,FEMALE}.pkl``.
        j_regressor_h36m: SPIN's ``J_regressor_h36m.npy`` (needed with a real SMPL model).
        mean_params: SPIN's ``smpl_mean_params.npz`` for checkpoints without IEF buffers.
        smplify_keypoints: 2D keypoints file; when given, the "with SMPLify" numbers are added.
        gmm: SMPLify's ``gmm_08.pkl`` (the mannequin's prior with the mannequin).
        smplify_iters: Adam steps per SMPLify stage (default: SPIN's 100).
        batch_size: images (or nothing, for the lifter) per forward pass.
        device: torch device the model runs on (the CLI resolves "auto").
        resume: reuse finished per-sequence files in ``out_dir/sequences``.
        progress: tqdm progress bar.
        flip: h36m-lifter test-time flip augmentation.
        causal: h36m-lifter: the official checkpoint was trained causal (its weights cannot tell;
            a project checkpoint carries it, and this must then agree).
        downsample: h36m-lifter: keep every n-th frame (2: 25 fps, the demo lifter's training rate).
        references_dir: folder of published numbers (default: the package's hmr/evaluation/published).

    Returns:
        The ``hmr.evaluation.report.BenchmarkReport``.
    """
    from hmr.evaluation import report as report_module
    from hmr.provenance import RunRecord

    out_dir = Path(out_dir)
    arguments = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in dict(
        benchmark=benchmark, data=data, checkpoint=checkpoint, keypoints_2d=keypoints_2d, images=images,
        protocol=protocol, body_model=body_model, j_regressor_h36m=j_regressor_h36m, mean_params=mean_params,
        smplify_keypoints=smplify_keypoints, gmm=gmm, smplify_iters=smplify_iters, batch_size=batch_size,
        device=device, resume=resume, flip=flip, causal=causal, downsample=downsample).items()}
    record = RunRecord("eval", arguments)
    with record.stage("evaluate"):
        if benchmark == "h36m-lifter":
            from hmr.evaluation.h36m_lifter import evaluate_lifter

            if keypoints_2d is None:
                raise InputError("h36m-lifter needs --keypoints-2d data_2d_h36m_<source>.npz next to the 3D file "
                                 "(VideoPose3D DATASETS.md)")
            result = evaluate_lifter(data_3d=data, data_2d=keypoints_2d, checkpoint=checkpoint, device=device,
                                     flip=flip, causal=causal, record=record, downsample=downsample)
        elif benchmark in ("h36m-mesh", "3dpw", "mpi-inf-3dhp", "world"):
            result = _evaluate_mesh(benchmark, Path(data), out_dir, Path(checkpoint), record,
                                    images=images, protocol=protocol, body_model=body_model,
                                    j_regressor_h36m=j_regressor_h36m, mean_params=mean_params,
                                    smplify_keypoints=smplify_keypoints, gmm=gmm, smplify_iters=smplify_iters,
                                    batch_size=batch_size, device=device, resume=resume, progress=progress)
            result = replace(result, body_model=str(body_model),
                             conditions={**result.conditions,
                                         "body_model": "mannequin" if str(body_model) == "mannequin" else "SMPL"})
        else:
            raise InputError(f"unknown benchmark {benchmark!r}; choose h36m-lifter, h36m-mesh, 3dpw, mpi-inf-3dhp or world")
    result = report_module.attach_references(result, report_module.load_references(benchmark, references_dir))
    with record.stage("report"):
        report_module.save_report(result, out_dir)
    record.data["results"] = {v.name: v.overall.values for v in result.variants}
    record.save(out_dir / "run.json")
    return result


def _evaluate_mesh(benchmark: str, data: Path, out_dir: Path, checkpoint: Path, record, *, images, protocol,
                   body_model, j_regressor_h36m, mean_params, smplify_keypoints, gmm, smplify_iters,
                   batch_size: int, device: str, resume: bool, progress: bool):
    from body_models.smpl import load_smpl
    from hmr.regressor import load_pretrained

    if benchmark == "h36m-mesh":
        from hmr.evaluation import h36m_mesh as adapter
    elif benchmark == "3dpw":
        from hmr.evaluation import pw3d as adapter
    elif benchmark == "world":
        from hmr.evaluation import world as adapter
    else:
        from hmr.evaluation import mpi_inf_3dhp as adapter

    dataset = adapter.load_dataset(data, images=images, protocol=protocol)  # checks files and split first
    for role, path in dataset.files.items():
        record.add_file(role, path)
    model = load_pretrained(checkpoint, mean_params=mean_params).to(device)
    record.add_file("checkpoint", checkpoint)
    if mean_params is not None:
        record.add_file("mean_params", mean_params)
    neutral = load_smpl(body_model, gender="neutral", j_regressor_h36m=j_regressor_h36m).to(device)
    if neutral.J_regressor_h36m is None:
        raise MissingFileError(f"{benchmark} scores joints from SPIN's J_regressor_h36m.npy (fetch_data.sh, "
                               f"github.com/nkolot/SPIN); pass --j-regressor-h36m with body model {body_model}")
    _record_body_files(record, body_model, "neutral", j_regressor_h36m)
    gt_bodies = None
    if dataset.needs_gendered_bodies:
        gt_bodies = {"neutral": neutral, **{g: load_smpl(body_model, gender=g, j_regressor_h36m=j_regressor_h36m).to(device)
                                            for g in ("male", "female")}}
        for g in ("male", "female"):
            _record_body_files(record, body_model, g, None)
    refine, refine_settings = None, None
    if smplify_keypoints is not None:
        refine, refine_settings = smplify_stage(neutral, body_model, smplify_keypoints, gmm, smplify_iters)
        record.add_file("smplify_keypoints", smplify_keypoints)
    fingerprint = fingerprint_of(benchmark=benchmark, checkpoint=record.data["files"]["checkpoint"]["sha256"],
                                 body_model=str(body_model), neutral=neutral.name, j_regressor=str(j_regressor_h36m),
                                 smplify=refine_settings, data={k: v["sha256"] for k, v in record.data["files"].items()
                                                                 if k.startswith("data")})
    evaluator = MeshEvaluator(dataset.protocol, regressor_predictor(model), neutral, dataset.image_root, out_dir,
                              crop_size=model.config.image_size, batch_size=batch_size, fingerprint=fingerprint,
                              gt_bodies=gt_bodies, smplify=refine, resume=resume, progress=progress)
    stored = evaluator.run(dataset.sequences)
    record.data["sequences"] = {"computed": evaluator.computed, "reused": evaluator.reused}
    return adapter.score(stored, dataset)


def _record_body_files(record, body_model, gender: str, j_regressor_h36m) -> None:
    from body_models import mannequin
    from body_models.model_files import resolve_model_path

    if str(body_model) == "mannequin":
        record.add_file("body_model_mannequin", mannequin.model_path())
        record.add_file("j_regressor_h36m", j_regressor_h36m or mannequin.j_regressor_h36m_path())
        return
    record.add_file(f"body_model_{gender}", resolve_model_path(body_model, gender=gender))
    if j_regressor_h36m is not None:
        record.add_file("j_regressor_h36m", j_regressor_h36m)


def smplify_stage(neutral: SMPL, body_model, keypoints_path, gmm, iters) -> tuple[SmplifyStage, dict]:
    """SMPLify on ``neutral`` with SPIN's settings (``SMPLifyConfig()``, ``iters`` Adam steps per stage when
    given), the pose prior ``gmm`` (the mannequin's with the mannequin) and a keypoints file.

    Returns:
        (the stage, the settings that go into the fingerprint).
    """
    from body_models import mannequin
    from hmr.smplify import SMPLify
    from hmr.smplify.fit import SMPLifyConfig

    config = SMPLifyConfig()  # SPIN's settings; configs/smplify/default.yaml spells them out
    if iters is not None:
        config = SMPLifyConfig.from_dict({**config.to_dict(), "num_iters": int(iters)})
    if gmm is None:
        if str(body_model) != "mannequin":
            raise MissingFileError("SMPLify needs the pose prior gmm_08.pkl (SPIN's fetch_data.sh, from the SMPLify "
                                   "project, non-commercial licence); pass --gmm")
        gmm = mannequin.gmm_prior_path()
    elif not Path(gmm).is_file():
        raise MissingFileError(f"pose prior {gmm} not found; gmm_08.pkl comes with SPIN's fetch_data.sh")
    keypoints, joint_set = load_smplify_keypoints(keypoints_path)
    try:
        neutral(betas=torch.zeros(1, neutral.num_betas)).joint_set(joint_set)
    except (InputError, KeyError) as err:
        raise InputError(f"{keypoints_path}: the body model cannot give {joint_set} joints for SMPLify ({err})") from None
    settings = {"config": config.to_dict(), "gmm": str(gmm), "keypoints": str(keypoints_path)}
    return SmplifyStage(SMPLify(neutral, gmm, config), keypoints, joint_set), settings


@dataclass
class MeshDataset:
    """What an adapter's ``load_dataset`` returns.

    Attributes:
        sequences: the work units, in report order.
        protocol: the scored joints.
        image_root: folder the image names are relative to.
        files: role → path of every annotation file read (hashed into run.json).
        needs_gendered_bodies: the ground truth is SMPL parameters (3DPW).
        description: one line naming the protocol, for the report.
        options: adapter-specific settings kept for scoring (e.g. the H36M protocol number).
    """

    sequences: list[SequenceSpec]
    protocol: JointProtocol
    image_root: Path
    files: dict[str, Path]
    needs_gendered_bodies: bool = False
    description: str = ""
    options: dict = field(default_factory=dict)


def mm(value: float) -> float:
    """Metres → millimetres for reports (NaN passes through)."""
    from body_models.metrics import MM_PER_M

    return float(value) * MM_PER_M if not math.isnan(value) else math.nan
