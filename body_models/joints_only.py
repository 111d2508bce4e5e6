"""SMPL joints of one joint set without the full mesh: the fast path for fitting.

A fit to 2D keypoints reads only the joints of one set (COCO-17, OpenPose-25, ...). Each of them
is a linear combination of the 24 kinematic joints and of a few vertices (the landmark picks and
the non-zero columns of ``J_regressor_extra`` / ``J_regressor_h36m``). ``JointsOnlySMPL`` computes
exactly those, with the same linear blend skinning as smplx's ``lbs``:

- the rest joints J(β) = J_regressor · (v_template + shapedirs · β) are linear in β, so they come
  from one precomputed (24·3, 1 + num_betas) matrix instead of shaping all 6,890 vertices;
- pose blend shapes and skinning run only on the vertices the joint set reads (457 of 6,890 for
  COCO-17 on SMPL);
- the kinematic chain is composed level by level of SMPL's tree (all joints at one depth in one
  batched product) rather than joint by joint, with 3×4 transforms.

The result equals ``SMPL.forward(...).joint_set(name)`` to floating-point rounding (the order of
the sums differs; a test checks values and gradients on random poses), so a fit that only reads
these joints gives the same loss and gradients as the full-mesh path at a fraction of the work.

Example:
    >>> fast = JointsOnlySMPL(load_smpl("mannequin"), "coco_17")
    >>> kp, joints24 = fast(betas, body_pose, global_orient, transl)   # (B, 17, 3), (B, 24, 3)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from body_models.smpl import SMPL, SMPLOutput


def joint_set_matrix(smpl: SMPL, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The joint set ``name`` as a linear map of the posed SMPL joints and vertices.

    Returns:
        (M_joints (J, 24), M_vertices (J, V)) float64 with
        ``joint_set(name) = M_joints · joints + M_vertices · vertices`` for any pose.
    """
    num_verts = smpl.smplx.v_template.shape[0]
    landmark_ids = smpl.smplx.vertex_joint_selector.extra_joints_idxs.cpu().numpy()
    rows = [np.eye(24, 24 + num_verts)]
    picks = np.zeros((len(landmark_ids), 24 + num_verts))
    picks[np.arange(len(landmark_ids)), 24 + landmark_ids] = 1.0
    rows.append(picks)
    for regressor in (smpl.J_regressor_extra, smpl.J_regressor_h36m):
        if regressor is not None:
            rows.append(np.concatenate([np.zeros((regressor.shape[0], 24)),
                                        regressor.double().cpu().numpy()], axis=1))
    sources = np.concatenate(rows)  # (S, 24 + V): every joint any set is made of
    # Run the joint set's own selection on "points" whose coordinates are the source rows, so
    # this map can never drift from SMPLOutput.joint_set.
    basis = torch.eye(len(sources), dtype=torch.float64)[None]
    start = 24 + len(landmark_ids)
    probe = SMPLOutput(vertices=basis[:, :0], joints=basis[:, :24], landmarks=basis[:, 24:start],
                       j_regressor_extra=smpl.J_regressor_extra, j_regressor_h36m=smpl.J_regressor_h36m)
    if smpl.J_regressor_extra is not None:
        probe.__dict__["extra"] = basis[:, start:start + 9]
        start += 9
    if smpl.J_regressor_h36m is not None:
        probe.__dict__["h36m"] = basis[:, start:start + 17]
    selection = probe.joint_set(name)[0].numpy()  # (J, S)
    full = selection @ sources
    return full[:, :24], full[:, 24:]


def _tree_levels(parents: list[int]) -> list[list[int]]:
    """Joints grouped by depth in the kinematic tree (the root alone first)."""
    depth = [0] * len(parents)
    for i in range(1, len(parents)):
        depth[i] = depth[parents[i]] + 1
    return [[i for i in range(len(parents)) if depth[i] == d] for d in range(max(depth) + 1)]


def rodrigues(axis_angle: Tensor) -> Tensor:
    """(..., 3) axis-angle → (..., 3, 3) rotation matrices, smplx's ``batch_rodrigues`` formula
    (R = I + sin θ K + (1 − cos θ) K², θ = ‖r + 1e-8‖) written elementwise, without the K·K
    product."""
    angle = torch.linalg.vector_norm(axis_angle + 1e-8, dim=-1, keepdim=True)
    x, y, z = (axis_angle / angle).unbind(-1)
    sin, cos = torch.sin(angle)[..., 0], torch.cos(angle)[..., 0]
    c1 = 1.0 - cos
    xx, yy, zz, xy, xz, yz = x * x, y * y, z * z, x * y, x * z, y * z
    # K² = r rᵀ − I for a unit axis r.
    return torch.stack([
        1.0 - c1 * (yy + zz), c1 * xy - sin * z, c1 * xz + sin * y,
        c1 * xy + sin * z, 1.0 - c1 * (xx + zz), c1 * yz - sin * x,
        c1 * xz - sin * y, c1 * yz + sin * x, 1.0 - c1 * (xx + yy),
    ], dim=-1).reshape(*axis_angle.shape[:-1], 3, 3)


class JointsOnlySMPL(nn.Module):
    """The joints of one joint set (and SMPL's 24 kinematic joints) from SMPL parameters,
    skinning only the vertices the set reads.

    Args:
        smpl: the ``SMPL`` layer (its buffers are copied, in its dtype and device).
        joint_set: a name ``SMPLOutput.joint_set`` knows, e.g. ``"coco_17"``.
    """

    def __init__(self, smpl: SMPL, joint_set: str) -> None:
        super().__init__()
        layer = smpl.smplx
        ref = layer.v_template
        self.joint_set = joint_set
        self.num_betas = smpl.num_betas
        m_joints, m_verts = joint_set_matrix(smpl, joint_set)
        used = np.flatnonzero(np.abs(m_verts).sum(0) > 0)
        self.num_vertices = len(used)  # vertices the set reads
        idx = torch.as_tensor(used, dtype=torch.long, device=ref.device)
        v_template = layer.v_template.double()
        shapedirs = layer.shapedirs.double()  # (V, 3, L)
        j_reg = layer.J_regressor.double()  # (24, V)
        # J(β) = J_template + J_dirs · β, (24, 3) and (24, 3, L), in float64 then cast.
        j_template = j_reg @ v_template
        j_dirs = torch.einsum("jv,vcl->jcl", j_reg, shapedirs)

        def buffer(name: str, value) -> None:
            self.register_buffer(name, torch.as_tensor(value).to(device=ref.device, dtype=ref.dtype), persistent=False)

        buffer("j_template", j_template)
        buffer("j_dirs", j_dirs.reshape(24 * 3, -1))
        # Every vertex-made joint is Σ_v M_jv Σ_i w_vi (R_i v + o_i) = Σ_i R_i P_ji + S_ji o_i
        # with P_ji = Σ_v M_jv w_vi v and S_ji = Σ_v M_jv w_vi. The vertices v are linear in β
        # and in the pose feature (rotations − I), so each P_ji is one precomputed linear map of
        # (1, β, pose feature): no vertex is skinned. Only the (joint, bone) pairs with non-zero
        # weight are kept (15 for COCO-17 on the mannequin).
        weights = layer.lbs_weights.double()[idx]  # (n, 24)
        mv = torch.as_tensor(m_verts[:, used])  # (J, n)
        pairs = torch.nonzero(mv.abs() @ weights.abs() > 0)  # (K, 2) joint, bone
        q = mv[pairs[:, 0]] * weights[:, pairs[:, 1]].T  # (K, n)
        posedirs = layer.posedirs.double().reshape(-1, layer.v_template.shape[0], 3)[:, idx]  # (207, n, 3)
        self.num_pairs = len(pairs)
        buffer("pair_const", q @ v_template[idx])  # (K, 3)
        buffer("pair_betas", torch.einsum("kv,vcl->kcl", q, shapedirs[idx]).reshape(-1, shapedirs.shape[-1]))
        buffer("pair_pose", torch.einsum("kv,pvc->kcp", q, posedirs).reshape(-1, posedirs.shape[0]))
        buffer("pair_share", q.sum(1))  # (K,) S
        buffer("pair_sum", torch.nn.functional.one_hot(pairs[:, 0], mv.shape[0]).double().T)  # (J, K)
        self.pair_bones = pairs[:, 1].tolist()
        buffer("m_joints", m_joints)  # (J, 24)
        # Rotating the root-relative body about the root at the end is exact with the weight
        # sums s (1 up to rounding): Σ_i w_i (R0 (H_i v − j0) + j0) = R0 (p − s j0) + s j0.
        buffer("root_share", torch.as_tensor(m_joints).sum(1) + mv @ weights.sum(1))  # (J,)
        # Likewise the translation, added to every vertex: the regressors' row sums (1 up to rounding).
        buffer("transl_share", m_joints.sum(1) + m_verts.sum(1))  # (J,)
        self.parents = parents = [int(p) for p in layer.parents.tolist()]
        self.levels = _tree_levels(parents)
        # Each level's parents sit in the level before: their positions there.
        position = {j: k for level in self.levels for k, j in enumerate(level)}
        self.parent_slots = [[position[parents[j]] for j in level] for level in self.levels[1:]]
        order = [j for level in self.levels for j in level]
        self.register_buffer("level_order", torch.as_tensor([order.index(j) for j in range(24)], device=ref.device),
                             persistent=False)
        self._cache: tuple | None = None

    def extra_repr(self) -> str:
        return f"joint_set={self.joint_set!r}, vertices={self.num_vertices}, pairs={self.num_pairs}"

    def _mm_points(self, matrix: Tensor, points: Tensor) -> Tensor:
        """(J, n) · (B, n, 3) → (B, J, 3) as one matrix product."""
        batch, n = points.shape[:2]
        flat = points.transpose(1, 2).reshape(batch * 3, n) @ matrix.T
        return flat.reshape(batch, 3, -1).transpose(1, 2)

    def body(self, betas: Tensor, body_pose: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The body with an identity root rotation, relative to the rest root joint j0.

        Returns:
            (kp (B, J, 3), joints (B, 24, 3), j0 (B, 3)): the set's joints minus their share of
            j0, SMPL's joints minus j0, and j0, metres.
        """
        batch = betas.shape[0]
        rot = rodrigues(body_pose.reshape(batch, 23, 3))  # (B, 23, 3, 3)
        rest = self.j_template + (betas @ self.j_dirs.T).reshape(batch, 24, 3)  # (B, 24, 3)
        eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
        feature = (rot - eye).reshape(batch, -1)  # (B, 207) the pose blend shapes' input
        pair_points = self.pair_const + (betas @ self.pair_betas.T + feature @ self.pair_pose.T).reshape(batch, -1, 3)
        rot = torch.cat([eye.expand(batch, 1, 3, 3), rot], dim=1)

        # Kinematic chain, one product per tree level (all parents of a level are in the level
        # before): R_i = R_p r_i, t_i = R_p (j_i − j_p) + t_p. Elementwise products: 3×3
        # matrices are too small for bmm to pay off.
        glob_r, glob_t = [rot[:, :1]], [torch.zeros_like(rest[:, :1])]
        for level, slots in zip(self.levels[1:], self.parent_slots):
            r_p, t_p = glob_r[-1][:, slots], glob_t[-1][:, slots]  # (B, k, 3, 3), (B, k, 3)
            rel = rest[:, level] - rest[:, [self.parents[j] for j in level]]
            glob_r.append((r_p[..., :, :, None] * rot[:, level, None, :, :]).sum(-2))
            glob_t.append((r_p * rel[..., None, :]).sum(-1) + t_p)
        r_all = torch.cat(glob_r, dim=1)[:, self.level_order]  # (B, 24, 3, 3)
        joints = torch.cat(glob_t, dim=1)[:, self.level_order]  # (B, 24, 3) relative to j0
        # Skinning x ↦ R_i x + o_i, o_i = t_i − R_i j_i (root-relative), for each pair only.
        bones = self.pair_bones
        r_pair = r_all[:, bones]  # (B, K, 3, 3)
        offset = joints[:, bones] - (r_pair * rest[:, bones, None, :]).sum(-1)
        contrib = (r_pair * pair_points[..., None, :]).sum(-1) + self.pair_share[:, None] * offset
        kp = self._mm_points(self.m_joints, joints) + self._mm_points(self.pair_sum, contrib)
        return kp, joints, rest[:, 0]

    def forward(self, betas: Tensor, body_pose: Tensor, global_orient: Tensor,
                transl: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Pose and shape the joints.

        The root-relative body depends on ``betas`` and ``body_pose`` only; when neither needs a
        gradient and both are the very tensors of the previous call, unchanged since (as in
        SMPLify's stage 1, which moves only the root), it is reused and only the root rotation
        and translation are applied.

        Args:
            betas: (B, num_betas).
            body_pose: (B, 69) axis-angle radians.
            global_orient: (B, 3) axis-angle radians.
            transl: (B, 3) metres or None.

        Returns:
            ((B, J, 3) the joint set, (B, 24, 3) SMPL's kinematic joints), metres.
        """
        frozen = not torch.is_grad_enabled() or not (betas.requires_grad or body_pose.requires_grad)
        key = (betas, betas._version, body_pose, body_pose._version)
        cache = self._cache
        if (frozen and cache is not None and cache[0] is key[0] and cache[1] == key[1]
                and cache[2] is key[2] and cache[3] == key[3]):
            kp, joints, root = cache[4]
        else:
            kp, joints, root = self.body(betas, body_pose)
            self._cache = (*key, (kp.detach(), joints.detach(), root.detach())) if frozen else None
        r0 = rodrigues(global_orient)[:, None]  # (B, 1, 3, 3)
        shift = root[:, None] if transl is None else root[:, None] + transl[:, None]
        out = (r0 * kp[..., None, :]).sum(-1) + self.root_share[:, None] * root[:, None]
        joints = (r0 * joints[..., None, :]).sum(-1) + shift
        if transl is not None:
            out = out + self.transl_share[:, None] * transl[:, None]
        return out, joints

def joints_only_for(smpl: SMPL, joint_set: str) -> JointsOnlySMPL:
    """The ``JointsOnlySMPL`` of ``smpl`` for ``joint_set``, built once and kept on the layer
    (rebuilt if the layer's dtype or device changed)."""
    cache = smpl.__dict__.setdefault("_joints_only", {})
    ref = smpl.smplx.v_template
    key = (joint_set, id(smpl.J_regressor_extra), id(smpl.J_regressor_h36m))
    fast = cache.get(key)
    if fast is None or fast.j_template.dtype != ref.dtype or fast.j_template.device != ref.device:
        fast = cache[key] = JointsOnlySMPL(smpl, joint_set)
    return fast
