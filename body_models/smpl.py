"""The SMPL body layer: smplx's linear blend skinning plus the extra joint regressors.

``SMPL`` wraps ``smplx.SMPL`` (its LBS is used as is) and adds the joint sets that evaluation and
fitting need: Human3.6M-17 from ``J_regressor_h36m.npy``, SPIN's 9 extra joints from
``J_regressor_extra.npy``, and from those COCO-17, LSP-14, OpenPose-25 and SPIN-49 (FORMATS
§3.7–3.8). ``load_smpl`` reads the files; the module itself never touches the disk.

Example:
    >>> from body_models import load_smpl
    >>> smpl = load_smpl("mannequin")            # or a path to SMPL_NEUTRAL.pkl / a folder
    >>> out = smpl(betas=torch.zeros(2, 10), body_pose=torch.zeros(2, 69),
    ...            global_orient=torch.zeros(2, 3))
    >>> out.vertices.shape, out.joints.shape, out.joint_set("h36m_17").shape
    (torch.Size([2, 6890, 3]), torch.Size([2, 24, 3]), torch.Size([2, 17, 3]))
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import smplx
import torch
from torch import Tensor, nn

from body_models import joints as js
from body_models.errors import InputError, MissingFileError

MANNEQUIN = "mannequin"


@dataclass
class SMPLOutput:
    """What ``SMPL.forward`` returns. All coordinates in metres, in the body model's frame
    (plus ``transl``).

    Attributes:
        vertices: (B, V, 3).
        joints: (B, 24, 3) the SMPL kinematic joints (``joints.SMPL_24``).
        landmarks: (B, 21, 3) smplx's vertex picks (face, feet, finger tips).
        extra: (B, 9, 3) SPIN's extra joints (``joints.SMPL_EXTRA_9``), or None without
            ``J_regressor_extra``. Regressed from the vertices when first read.
        h36m: (B, 17, 3) Human3.6M joints in VideoPose3D order (``joints.H36M_17``), or None
            without ``J_regressor_h36m``. Regressed from the vertices when first read.
    """

    vertices: Tensor
    joints: Tensor
    landmarks: Tensor
    j_regressor_extra: Tensor | None = field(default=None, repr=False)
    j_regressor_h36m: Tensor | None = field(default=None, repr=False)

    @cached_property
    def extra(self) -> Tensor | None:
        if self.j_regressor_extra is None:
            return None
        return torch.einsum("jv,bvc->bjc", self.j_regressor_extra, self.vertices)

    @cached_property
    def h36m(self) -> Tensor | None:
        if self.j_regressor_h36m is None:
            return None
        return torch.einsum("jv,bvc->bjc", self.j_regressor_h36m, self.vertices)

    @property
    def smpl_54(self) -> Tensor:
        """(B, 54, 3) SMPL-24, the 21 landmarks and the 9 extra joints (``joints.SMPL_54``)."""
        if self.extra is None:
            raise InputError("this SMPL layer has no J_regressor_extra; load it with j_regressor_extra=...")
        return torch.cat([self.joints, self.landmarks, self.extra], dim=1)

    def joint_set(self, name: str) -> Tensor:
        """(B, J, 3) the joints of a named set: ``smpl_24``, ``smpl_45``, ``smpl_54``, ``h36m_17``,
        ``coco_17``, ``lsp_14`` (from the H36M regressor, as SPIN evaluates), ``openpose_25``,
        ``spin_24`` or ``spin_49``."""
        if name == "smpl_24":
            return self.joints
        if name == "smpl_45":
            return torch.cat([self.joints, self.landmarks], dim=1)
        if name in ("h36m_17", "lsp_14"):
            if self.h36m is None:
                raise InputError(f"joint set {name} needs J_regressor_h36m; load the SMPL layer with j_regressor_h36m=...")
            if name == "h36m_17":
                return self.h36m
            return self.h36m[:, list(js.index_map(js.H36M_17, js.LSP_14))]
        if name == "spin_49":
            return self.smpl_54[:, list(js.SPIN_49_FROM_SMPL_54)]
        if name in js.JOINT_SETS:
            return self.smpl_54[:, list(js.index_map(js.SMPL_54, js.JOINT_SETS[name]))]
        raise KeyError(f"unknown joint set {name!r}; known: {', '.join(js.JOINT_SETS)}")


class SMPL(nn.Module):
    """SMPL with extra joint regressors.

    Args:
        model: arrays in SMPL's layout (``body_models.load_model_file``).
        j_regressor_h36m: (17, V) rows in SPIN's file order (``joints.H36M_REGRESSOR_17``), or None.
            Stored re-ordered to VideoPose3D's ``joints.H36M_17``.
        j_regressor_extra: (9, V) rows in ``joints.SMPL_EXTRA_9`` order, or None.
        num_betas: shape components used (at most what the model has).
        name: what made this model (a file name, or "mannequin"); outputs record it.
    """

    def __init__(self, model: dict, j_regressor_h36m: np.ndarray | None = None,
                 j_regressor_extra: np.ndarray | None = None, num_betas: int = 10,
                 name: str = "smpl") -> None:
        super().__init__()
        num_verts = model["v_template"].shape[0]
        self.name = name
        self.num_betas = min(num_betas, model["shapedirs"].shape[-1])
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note for 10-PC models
            self.smplx = smplx.SMPL(
                model_path="", data_struct=smplx.utils.Struct(**model), num_betas=self.num_betas,
                create_betas=False, create_global_orient=False, create_body_pose=False,
                create_transl=False)
        for attr, regressor, rows in (("J_regressor_h36m", j_regressor_h36m, 17),
                                      ("J_regressor_extra", j_regressor_extra, 9)):
            if regressor is not None:
                regressor = np.asarray(regressor, dtype=np.float64)
                if regressor.shape != (rows, num_verts):
                    raise InputError(f"{attr} has shape {regressor.shape}, expected ({rows}, {num_verts})")
                if attr == "J_regressor_h36m":
                    regressor = regressor[list(js.index_map(js.H36M_REGRESSOR_17, js.H36M_17))]
                self.register_buffer(attr, torch.as_tensor(regressor, dtype=torch.float32))
            else:
                setattr(self, attr, None)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle indices."""
        return self.smplx.faces.astype(np.int64)

    def rest_root(self, betas: Tensor) -> Tensor:
        """(B, 3) the root joint at rest for ``betas`` (B, num_betas), metres."""
        template = self.smplx.v_template + torch.einsum("bl,vcl->bvc", betas, self.smplx.shapedirs)
        return torch.einsum("v,bvc->bc", self.smplx.J_regressor[0], template)

    @property
    def is_mannequin(self) -> bool:
        return self.name == MANNEQUIN

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, vertices={self.smplx.v_template.shape[0]}, num_betas={self.num_betas}, "
                f"h36m={self.J_regressor_h36m is not None}, extra={self.J_regressor_extra is not None}")

    def forward(self, betas: Tensor | None = None, body_pose: Tensor | None = None,
                global_orient: Tensor | None = None, transl: Tensor | None = None) -> SMPLOutput:
        """Pose and shape the body.

        Args:
            betas: (B, num_betas) shape coefficients; zeros when None.
            body_pose: (B, 69) axis-angle radians, or (B, 23, 3, 3) rotation matrices.
            global_orient: (B, 3) axis-angle radians, or (B, 1, 3, 3) rotation matrices.
            transl: (B, 3) metres, added to every output point; none when None.

        Returns:
            SMPLOutput with vertices (B, V, 3) and joints (B, 24, 3), metres.
        """
        given = [t for t in (betas, body_pose, global_orient, transl) if t is not None]
        if not given:
            raise ValueError("SMPL.forward needs at least one of betas, body_pose, global_orient")
        batch = given[0].shape[0]
        ref = self.smplx.v_template
        rotmats = body_pose is not None and body_pose.dim() == 4 or global_orient is not None and global_orient.dim() == 4
        if betas is None:
            betas = ref.new_zeros(batch, self.num_betas)
        if betas.shape[-1] != self.num_betas:
            raise ValueError(f"betas has shape {tuple(betas.shape)}, expected (B, {self.num_betas})")
        if rotmats:
            eye = torch.eye(3, dtype=ref.dtype, device=ref.device)
            body_pose = eye.expand(batch, 23, 3, 3) if body_pose is None else body_pose
            global_orient = eye.expand(batch, 1, 3, 3) if global_orient is None else global_orient
            if body_pose.shape[1:] != (23, 3, 3) or global_orient.shape[1:] != (1, 3, 3):
                raise ValueError(f"rotation-matrix pose must be body_pose (B, 23, 3, 3) and global_orient (B, 1, 3, 3); "
                                 f"got {tuple(body_pose.shape)} and {tuple(global_orient.shape)}")
        else:
            body_pose = ref.new_zeros(batch, 69) if body_pose is None else body_pose
            global_orient = ref.new_zeros(batch, 3) if global_orient is None else global_orient
            if body_pose.shape[1:] != (69,) or global_orient.shape[1:] != (3,):
                raise ValueError(f"axis-angle pose must be body_pose (B, 69) and global_orient (B, 3); "
                                 f"got {tuple(body_pose.shape)} and {tuple(global_orient.shape)}")
        out = self.smplx(betas=betas, body_pose=body_pose, global_orient=global_orient,
                         transl=transl, pose2rot=not rotmats)
        return SMPLOutput(vertices=out.vertices, joints=out.joints[:, :24], landmarks=out.joints[:, 24:45],
                          j_regressor_extra=self.J_regressor_extra, j_regressor_h36m=self.J_regressor_h36m)


def load_smpl(model: str | os.PathLike = MANNEQUIN, gender: str = "neutral",
              j_regressor_h36m: str | os.PathLike | None = None,
              j_regressor_extra: str | os.PathLike | None = None, num_betas: int = 10) -> SMPL:
    """Build an ``SMPL`` layer from files.

    Args:
        model: ``"mannequin"`` (the synthetic stand-in, generated and cached), an official SMPL
            ``.pkl``/``.npz`` file, or a folder holding ``SMPL_{GENDER}.pkl`` (or the v1.0.0 names).
        gender: ``neutral``, ``male`` or ``female`` when ``model`` is a folder.
        j_regressor_h36m, j_regressor_extra: ``.npy`` paths. With the mannequin they default to
            its own synthetic regressors; with a real model they are optional.

    Returns:
        An eval-mode ``SMPL`` on CPU, float32.
    """
    from body_models import mannequin
    from body_models.model_files import load_model_file, resolve_model_path

    if str(model) == MANNEQUIN:
        arrays = load_model_file(mannequin.model_path())
        name = MANNEQUIN
        j_regressor_h36m = j_regressor_h36m or mannequin.j_regressor_h36m_path()
        j_regressor_extra = j_regressor_extra or mannequin.j_regressor_extra_path()
    else:
        path = resolve_model_path(model, gender=gender)
        arrays = load_model_file(path)
        name = Path(path).name
    smpl_arrays = {k: v for k, v in arrays.items()
                   if k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")}
    layer = SMPL(smpl_arrays, load_regressor(j_regressor_h36m), load_regressor(j_regressor_extra),
                 num_betas=num_betas, name=name)
    return layer.eval()


def load_regressor(path: str | os.PathLike | None) -> np.ndarray | None:
    """A joint regressor ``.npy`` as a dense (J, V) float64 array (None passes through)."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"joint regressor {path} not found; J_regressor_h36m.npy and "
                               "J_regressor_extra.npy come with SPIN's data (fetch_data.sh)")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise InputError(f"{path} is not a plain .npy array ({err}); re-save it with numpy.save") from None
    if array.ndim != 2:
        raise InputError(f"{path} holds an array of shape {array.shape}; a joint regressor is (J, V)")
    return array.astype(np.float64)


def rigid_transform_params(global_orient: Tensor, transl: Tensor, root: Tensor,
                           rotation: Tensor, translation: Tensor) -> tuple[Tensor, Tensor]:
    """Express a rigidly moved body as new SMPL ``global_orient`` and ``transl``.

    SMPL rotates the body about its root joint, so moving the posed body by ``x ↦ R x + t``
    gives ``global_orient' = R · global_orient`` and
    ``transl' = R (root + transl) + t − root``, with ``root`` the rest-pose pelvis (it depends on
    the betas only). Used to move a body from its own frame into a camera frame.

    Args:
        global_orient: (B, 3) axis-angle radians.
        transl: (B, 3) metres.
        root: (B, 3) or (3,) rest-pose root joint for the body's betas, metres
            (``SMPL.rest_root``).
        rotation: (3, 3) R.
        translation: (3,) t, metres.

    Returns:
        (global_orient (B, 3), transl (B, 3)) for the moved body.
    """
    from body_models.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    rotation = rotation.to(global_orient)
    orient = matrix_to_axis_angle(rotation @ axis_angle_to_matrix(global_orient))
    moved = (root + transl) @ rotation.T + translation.to(transl) - root
    return orient, moved
