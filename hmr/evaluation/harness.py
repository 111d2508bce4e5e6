"""The evaluation harness: streams benchmark sequences through the mesh regressor, with
per-sequence result files and resume, and writes the report and ``run.json`` of every run.

A benchmark adapter (chosen by ``hmr.commands.evaluate``) turns the published files into a
``MeshDataset``. The ``MeshEvaluator`` streams each sequence through crop → regressor → neutral
SMPL → Human3.6M regressor in batches of ``batch_size`` images (so memory is one batch of crops
plus one sequence of joints), optionally refines each batch with SMPLify
(``hmr.evaluation.smplify_setup``), and writes ``<out>/sequences/<key>.npz`` atomically when the
sequence is complete. A second run with the same fingerprint (checkpoint, body model, SMPLify
settings) skips the sequences already written.

PVE (3DPW) is the mean vertex distance after the same pelvis centring of both meshes as the
joints (``hmr.evaluation.types``), the ground-truth mesh from the gender-specific model.

``evaluate_mesh`` runs one adapter; ``run_evaluation`` wraps any benchmark's scoring in the run
record, attaches the published numbers and saves the report.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import contained_path
from body_models.errors import InputError, MissingFileError
from body_models.progress import Progress, StageCounter, as_progress
from body_models.smpl import SMPL
from hmr.evaluation import report as report_module
from hmr.evaluation.report import BenchmarkReport
from hmr.evaluation.smplify_setup import SmplifyStage, smplify_stage
from hmr.evaluation.types import JointProtocol, PredictedBodies, Predictor, SequenceSpec, StoredSequence

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
    from hmr.core.imagenet import normalize_images

    crops = []
    for name, c, s in zip(imgnames, center, scale):
        path = image_root / name
        if not path.is_file():
            raise MissingFileError(f"image {path} not found; the benchmark's images must be under "
                                   f"{image_root} as the annotation names them ({name})")
        warped = warp_crop(read_image(path), crop_matrix(c, float(s), size), size)
        crops.append(warped.round().clamp(0, 255).to(torch.uint8))
    return normalize_images(torch.stack(crops))


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
        progress: a ``body_models.progress.Progress`` reporter, called as ``("eval", images done,
            images to predict)``; True prints plain lines to stderr, False is silent.
    """

    def __init__(self, protocol: JointProtocol, predictor: Predictor, body_model: SMPL, image_root: Path,
                 out_dir: Path, crop_size: int = 224, batch_size: int = 32, fingerprint: str = "",
                 gt_bodies: Mapping[str, SMPL] | None = None, smplify: SmplifyStage | None = None,
                 resume: bool = True, progress: Progress | bool = True) -> None:
        if body_model.J_regressor_h36m is None:
            raise InputError(f"body model {body_model.name} has no J_regressor_h36m; the benchmarks score joints "
                             "regressed with SPIN's J_regressor_h36m.npy (fetch_data.sh): pass --j-regressor-h36m")
        if int(batch_size) < 1:
            raise InputError(f"batch size must be a positive integer, got {batch_size!r}")
        self.protocol, self.predictor, self.body_model = protocol, predictor, body_model
        self.image_root, self.sequence_dir = Path(image_root), Path(out_dir) / "sequences"
        self.crop_size, self.batch_size, self.fingerprint = int(crop_size), int(batch_size), fingerprint
        self.gt_bodies, self.smplify, self.resume, self.progress = gt_bodies, smplify, resume, as_progress(progress)
        self.reused: list[str] = []
        self.computed: list[str] = []

    def run(self, sequences: Sequence[SequenceSpec]) -> list[StoredSequence]:
        """Predict every sequence not already stored; return all of them, in order."""
        stored: list[StoredSequence | None] = []
        todo = 0
        for spec in sequences:
            path = contained_path(self.sequence_dir, spec.key, ".npz")
            done = StoredSequence.load(path, self.fingerprint) if self.resume and path.is_file() else None
            stored.append(done)
            todo += 0 if done is not None else len(spec)
        counter = StageCounter(self.progress, "eval", todo)
        for i, spec in enumerate(sequences):
            if stored[i] is not None:
                self.reused.append(spec.key)
                continue
            result = self._sequence(spec, counter)
            result.save(contained_path(self.sequence_dir, spec.key, ".npz"), self.fingerprint)
            self.computed.append(spec.key)
            stored[i] = result
        return [s for s in stored if s is not None]

    def _sequence(self, spec: SequenceSpec, counter: StageCounter) -> StoredSequence:
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
            counter.advance(stop - start)
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


def run_evaluation(benchmark: str, arguments: Mapping[str, object], evaluate: Callable[..., BenchmarkReport],
                   out_dir: str | os.PathLike, references_dir: str | os.PathLike | None = None) -> BenchmarkReport:
    """Score a benchmark inside a run record and write the report into ``out_dir``.

    Args:
        benchmark: the name the published numbers are filed under (``3dpw``, ``h36m-lifter``, ...).
        arguments: the settings of the run, as stored in ``run.json``.
        evaluate: ``evaluate(record)`` → the ``BenchmarkReport``; it adds the files it reads to the
            ``hmr.core.provenance.RunRecord`` it is given.
        out_dir: report folder (``results.json``, ``results.csv``, PNGs, ``run.json``).
        references_dir: folder of published numbers (default: the package's hmr/evaluation/published).

    Returns:
        The report, with the published numbers attached.
    """
    from hmr.core.provenance import RunRecord

    out_dir = Path(out_dir)
    record = RunRecord("eval", dict(arguments))
    with record.stage("evaluate"):
        result = evaluate(record)
    result = report_module.attach_references(result, report_module.load_references(benchmark, references_dir))
    with record.stage("report"):
        report_module.save_report(result, out_dir)
    record.data["results"] = {v.name: v.overall.values for v in result.variants}
    record.save(out_dir / "run.json")
    return result


def evaluate_mesh(adapter: ModuleType, benchmark: str, data: Path, out_dir: Path, checkpoint: Path, record, *,
                  images, protocol, body_model, j_regressor_h36m, mean_params, smplify_keypoints, gmm,
                  smplify_iters, batch_size: int, device: str, resume: bool,
                  progress: Progress | bool) -> BenchmarkReport:
    """Run the mesh regressor over one benchmark and score it.

    Args:
        adapter: the benchmark's module, with ``load_dataset(data, images=, protocol=)`` → ``MeshDataset``
            and ``score(stored, dataset)`` → ``BenchmarkReport``.
        benchmark: its name (it goes into the fingerprint and the error messages).
        record: the ``hmr.core.provenance.RunRecord`` every file read is added to.
        The rest: as ``hmr.commands.evaluate.evaluate_benchmark`` takes them.

    Returns:
        The report, naming the body model it was scored with.
    """
    from body_models.smpl import load_smpl
    from hmr.regressor import load_pretrained

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
    result = adapter.score(stored, dataset)
    body = "mannequin" if str(body_model) == "mannequin" else "SMPL"
    return replace(result, body_model=str(body_model), conditions={**result.conditions, "body_model": body})


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

