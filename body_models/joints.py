"""Named joint sets and the maps between them: the one place that knows joint orders.

Every joint set is a ``JointSet``: names, parents (a tree, root parent -1), a left/right flip
permutation and drawing edges. Maps between sets are written as tuples of *names* in the source
set and resolved to indices by ``index_map``, so no module outside this one hard-codes an index
list.

Sets (sources: FORMATS.md):

- ``SMPL_24``: the SMPL kinematic tree (smplx ``joint_names.py``; FORMATS §4.4).
- ``SMPL_45``: what smplx's ``SMPL`` forward returns: the 24 joints, then 21 vertex picks
  (face, feet, finger tips; ``SMPL_LANDMARK_VERTICES``).
- ``SMPL_EXTRA_9``: the rows of SPIN's ``J_regressor_extra.npy`` (FORMATS §3.7).
- ``SMPL_54``: ``SMPL_45`` followed by ``SMPL_EXTRA_9``, the layout SPIN selects its 49 joints from.
- ``H36M_17``: VideoPose3D's 17 Human3.6M joints (FORMATS §2.6). ``H36M_REGRESSOR_17`` is the
  row order of SPIN's ``J_regressor_h36m.npy`` (FORMATS §3.8), left leg first.
- ``COCO_17``: the COCO keypoints (FORMATS §1.10).
- ``LSP_14``: the 14 LSP joints (FORMATS §3.7, SPIN's first 14 "GT" joints).
- ``OPENPOSE_25``: OpenPose BODY_25.
- ``SPIN_24`` and ``SPIN_49``: SPIN's 24 "GT" joints and its 49 = OpenPose-25 + SPIN-24.

Conventions: "left" is the subject's left. Flip permutations give, for joint i of the flipped
body, the index of the joint it comes from: ``flipped = x[..., flip_perm, :]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

# Vertex indices of SMPL surface landmarks, as smplx (``vertex_ids['smplh']``) picks them.
SMPL_LANDMARK_VERTICES: dict[str, int] = {
    "nose": 332,
    "right_eye": 6260,
    "left_eye": 2800,
    "right_ear": 4071,
    "left_ear": 583,
    "left_big_toe": 3216,
    "left_small_toe": 3226,
    "left_heel": 3387,
    "right_big_toe": 6617,
    "right_small_toe": 6624,
    "right_heel": 6787,
    "left_thumb": 2746,
    "left_index": 2319,
    "left_middle": 2445,
    "left_ring": 2556,
    "left_pinky": 2673,
    "right_thumb": 6191,
    "right_index": 5782,
    "right_middle": 5905,
    "right_ring": 6016,
    "right_pinky": 6133,
}


@dataclass(frozen=True)
class JointSet:
    """An ordered set of named joints.

    Attributes:
        name: short identifier, e.g. ``"h36m_17"``.
        names: (J,) joint names.
        parents: (J,) parent index per joint, -1 for a root.
        flip_perm: (J,) for each joint of a left/right mirrored body, the joint it comes from.
        edges: pairs of joint indices to draw; by default the (parent, child) bones.
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    flip_names: tuple[tuple[str, str], ...] = ()
    extra_edges: tuple[tuple[int, int], ...] = ()
    flip_perm: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.parents) != len(self.names):
            raise ValueError(f"{self.name}: {len(self.names)} names but {len(self.parents)} parents")
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"{self.name}: joint names are not unique")
        perm = list(range(len(self.names)))
        for a, b in self.flip_names:
            ia, ib = self.index(a), self.index(b)
            perm[ia], perm[ib] = ib, ia
        object.__setattr__(self, "flip_perm", tuple(perm))

    def __len__(self) -> int:
        return len(self.names)

    def index(self, joint_name: str) -> int:
        """Index of ``joint_name``; ``KeyError`` naming the set when it is absent."""
        try:
            return self.names.index(joint_name)
        except ValueError:
            raise KeyError(f"joint {joint_name!r} is not in joint set {self.name}") from None

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        bones = tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)
        return bones + self.extra_edges

    @property
    def left(self) -> tuple[int, ...]:
        """Indices of the subject's left joints (those in a flip pair whose name says left)."""
        return tuple(self.index(a if "left" in a else b) for a, b in self.flip_names)

    @property
    def right(self) -> tuple[int, ...]:
        """Indices of the subject's right joints, paired with ``left``."""
        return tuple(self.index(b if "left" in a else a) for a, b in self.flip_names)


def _lr_pairs(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(left_x, right_x) pairs for every ``left_*`` name whose ``right_*`` twin is present."""
    pairs = []
    for n in names:
        if n.startswith("left_") and "right_" + n[5:] in names:
            pairs.append((n, "right_" + n[5:]))
    return tuple(pairs)


def _make(name: str, joints: Sequence[tuple[str, str | None]], extra_edges=()) -> JointSet:
    """A ``JointSet`` from (joint name, parent name or None) rows, in order."""
    names = tuple(j for j, _ in joints)
    parents = tuple(-1 if p is None else names.index(p) for _, p in joints)
    return JointSet(name, names, parents, _lr_pairs(names), tuple(extra_edges))


SMPL_24 = _make("smpl_24", [
    ("pelvis", None), ("left_hip", "pelvis"), ("right_hip", "pelvis"), ("spine1", "pelvis"),
    ("left_knee", "left_hip"), ("right_knee", "right_hip"), ("spine2", "spine1"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"), ("spine3", "spine2"),
    ("left_foot", "left_ankle"), ("right_foot", "right_ankle"), ("neck", "spine3"),
    ("left_collar", "spine3"), ("right_collar", "spine3"), ("head", "neck"),
    ("left_shoulder", "left_collar"), ("right_shoulder", "right_collar"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"),
    ("left_hand", "left_wrist"), ("right_hand", "right_wrist"),
])

# The 21 vertex picks smplx appends to the 24 joints, in smplx's order, with a parent joint each.
_SMPL_VERTEX_JOINTS = [
    ("nose", "head"), ("right_eye", "head"), ("left_eye", "head"), ("right_ear", "head"),
    ("left_ear", "head"), ("left_big_toe", "left_foot"), ("left_small_toe", "left_foot"),
    ("left_heel", "left_ankle"), ("right_big_toe", "right_foot"),
    ("right_small_toe", "right_foot"), ("right_heel", "right_ankle"),
    ("left_thumb", "left_hand"), ("left_index", "left_hand"), ("left_middle", "left_hand"),
    ("left_ring", "left_hand"), ("left_pinky", "left_hand"),
    ("right_thumb", "right_hand"), ("right_index", "right_hand"), ("right_middle", "right_hand"),
    ("right_ring", "right_hand"), ("right_pinky", "right_hand"),
]
SMPL_45 = _make("smpl_45", list(zip(SMPL_24.names, [None if p < 0 else SMPL_24.names[p] for p in SMPL_24.parents])) + _SMPL_VERTEX_JOINTS)

# Rows of SPIN's J_regressor_extra.npy (FORMATS §3.7), with the joint each hangs from for drawing.
SMPL_EXTRA_9 = _make("smpl_extra_9", [
    ("right_hip_lsp", None), ("left_hip_lsp", None), ("neck_lsp", None), ("head_top_lsp", None),
    ("pelvis_mpii", None), ("thorax_mpii", None), ("spine_h36m", None), ("jaw_h36m", None),
    ("head_h36m", None),
])

SMPL_54 = JointSet(
    "smpl_54",
    SMPL_45.names + SMPL_EXTRA_9.names,
    SMPL_45.parents + tuple(SMPL_45.index(p) for p in (
        "pelvis", "pelvis", "spine3", "head", "pelvis", "spine3", "spine1", "neck", "head")),
    _lr_pairs(SMPL_45.names + SMPL_EXTRA_9.names),
)

H36M_17 = _make("h36m_17", [
    ("pelvis", None), ("right_hip", "pelvis"), ("right_knee", "right_hip"),
    ("right_ankle", "right_knee"), ("left_hip", "pelvis"), ("left_knee", "left_hip"),
    ("left_ankle", "left_knee"), ("spine", "pelvis"), ("thorax", "spine"),
    ("neck_nose", "thorax"), ("head", "neck_nose"), ("left_shoulder", "thorax"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("right_shoulder", "thorax"),
    ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
])

# Row order of SPIN's J_regressor_h36m.npy (FORMATS §3.8): the same joints, left leg first.
H36M_REGRESSOR_17 = _make("h36m_regressor_17", [
    ("pelvis", None), ("left_hip", "pelvis"), ("left_knee", "left_hip"),
    ("left_ankle", "left_knee"), ("right_hip", "pelvis"), ("right_knee", "right_hip"),
    ("right_ankle", "right_knee"), ("spine", "pelvis"), ("thorax", "spine"),
    ("neck_nose", "thorax"), ("head", "neck_nose"), ("left_shoulder", "thorax"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("right_shoulder", "thorax"),
    ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"),
])

COCO_17 = _make("coco_17", [
    ("nose", None), ("left_eye", "nose"), ("right_eye", "nose"), ("left_ear", "left_eye"),
    ("right_ear", "right_eye"), ("left_shoulder", "nose"), ("right_shoulder", "nose"),
    ("left_elbow", "left_shoulder"), ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"), ("right_wrist", "right_elbow"), ("left_hip", "left_shoulder"),
    ("right_hip", "right_shoulder"), ("left_knee", "left_hip"), ("right_knee", "right_hip"),
    ("left_ankle", "left_knee"), ("right_ankle", "right_knee"),
], extra_edges=((5, 6), (11, 12)))

LSP_14 = _make("lsp_14", [
    ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "right_shoulder"),
    ("left_hip", "left_shoulder"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
    ("right_shoulder", "neck"), ("left_shoulder", "neck"), ("left_elbow", "left_shoulder"),
    ("left_wrist", "left_elbow"), ("neck", None), ("head_top", "neck"),
], extra_edges=((2, 3),))

OPENPOSE_25 = _make("openpose_25", [
    ("nose", "neck"), ("neck", "mid_hip"), ("right_shoulder", "neck"),
    ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"), ("left_shoulder", "neck"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("mid_hip", None),
    ("right_hip", "mid_hip"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"),
    ("left_hip", "mid_hip"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"),
    ("right_eye", "nose"), ("left_eye", "nose"), ("right_ear", "right_eye"),
    ("left_ear", "left_eye"), ("left_big_toe", "left_ankle"),
    ("left_small_toe", "left_big_toe"), ("left_heel", "left_ankle"),
    ("right_big_toe", "right_ankle"), ("right_small_toe", "right_big_toe"),
    ("right_heel", "right_ankle"),
])

# MPI-INF-3DHP's 17 evaluation joints (``mpii_get_joint_set('relevant')``, FORMATS §6.2).
MPI_INF_3DHP_17 = _make("mpi_inf_3dhp_17", [
    ("head_top", "neck"), ("neck", "spine"), ("right_shoulder", "neck"),
    ("right_elbow", "right_shoulder"), ("right_wrist", "right_elbow"), ("left_shoulder", "neck"),
    ("left_elbow", "left_shoulder"), ("left_wrist", "left_elbow"), ("right_hip", "pelvis"),
    ("right_knee", "right_hip"), ("right_ankle", "right_knee"), ("left_hip", "pelvis"),
    ("left_knee", "left_hip"), ("left_ankle", "left_knee"), ("pelvis", None), ("spine", "pelvis"),
    ("head", "neck"),
])

# SPIN's 24 "GT" joints (FORMATS §3.7); the first 14 are LSP_14.
SPIN_24 = _make("spin_24", list(zip(LSP_14.names, [None if p < 0 else LSP_14.names[p] for p in LSP_14.parents])) + [
    ("pelvis_mpii", None), ("thorax_mpii", "neck"), ("spine_h36m", "thorax_mpii"),
    ("jaw_h36m", "neck"), ("head_h36m", "neck"), ("nose", "head_h36m"), ("left_eye", "nose"),
    ("right_eye", "nose"), ("left_ear", "left_eye"), ("right_ear", "right_eye"),
])

# SPIN's 49 joints: OpenPose-25 then SPIN-24, prefixed to keep names unique.
SPIN_49 = JointSet(
    "spin_49",
    tuple("op_" + n for n in OPENPOSE_25.names) + SPIN_24.names,
    OPENPOSE_25.parents + tuple(p if p < 0 else p + 25 for p in SPIN_24.parents),
    tuple(("op_" + a, "op_" + b) for a, b in _lr_pairs(OPENPOSE_25.names)) + _lr_pairs(SPIN_24.names),
)

JOINT_SETS: dict[str, JointSet] = {
    s.name: s for s in (SMPL_24, SMPL_45, SMPL_EXTRA_9, SMPL_54, H36M_17, H36M_REGRESSOR_17,
                        COCO_17, LSP_14, OPENPOSE_25, MPI_INF_3DHP_17, SPIN_24, SPIN_49)
}

# Where each joint of a target set comes from in a source set, by source-joint name. Identical
# names map to themselves; these tables list only what differs or must be chosen.
_SOURCES: dict[tuple[str, str], dict[str, str]] = {
    # SMPL body output (SMPL_54) to the annotation sets. LSP and COCO hips are annotated on the
    # body surface, so they come from J_regressor_extra (as SPIN fills its GT hips), not from
    # SMPL's hip joints; OpenPose hips are SMPL's hip joints (SPIN's JOINT_MAP).
    ("smpl_54", "coco_17"): {"left_hip": "left_hip_lsp", "right_hip": "right_hip_lsp"},
    ("smpl_54", "lsp_14"): {"left_hip": "left_hip_lsp", "right_hip": "right_hip_lsp",
                            "neck": "neck_lsp", "head_top": "head_top_lsp"},
    ("smpl_54", "openpose_25"): {"neck": "neck", "mid_hip": "pelvis"},
    ("smpl_54", "spin_24"): {"left_hip": "left_hip_lsp", "right_hip": "right_hip_lsp",
                             "neck": "neck_lsp", "head_top": "head_top_lsp"},
    # H36M-17 to LSP-14 as SPIN evaluates (H36M_TO_J14): neck is the thorax, head is the head.
    ("h36m_17", "lsp_14"): {"neck": "thorax", "head_top": "head"},
    ("h36m_regressor_17", "lsp_14"): {"neck": "thorax", "head_top": "head"},
    # H36M-17 to SPIN-17 evaluation order (H36M_TO_J17): LSP-14, then pelvis, spine, jaw/head.
    ("h36m_17", "spin_24"): {"neck": "thorax", "head_top": "head", "head_h36m": "head",
                             "pelvis_mpii": "pelvis", "spine_h36m": "spine",
                             "jaw_h36m": "neck_nose"},
    ("h36m_regressor_17", "spin_24"): {"neck": "thorax", "head_top": "head", "head_h36m": "head",
                                       "pelvis_mpii": "pelvis", "spine_h36m": "spine",
                                       "jaw_h36m": "neck_nose"},
    # MPI-INF-3DHP ground truth into SPIN's slots, as SPIN's preprocessing places it.
    ("mpi_inf_3dhp_17", "spin_24"): {"head_h36m": "head_top", "jaw_h36m": "head",
                                     "spine_h36m": "spine", "pelvis_mpii": "pelvis"},
    # COCO-17 approximates H36M-17 as the published COCO-input VideoPose3D model does not need;
    # this map is for drawing and for building H36M-like joints from COCO detections.
    ("coco_17", "h36m_17"): {"neck_nose": "nose", "head": "nose"},
}


def index_map(src: JointSet | str, dst: JointSet | str, names: Sequence[str] | None = None) -> tuple[int, ...]:
    """Indices into ``src`` that give the joints of ``dst`` (or the listed ``names`` of ``dst``).

    ``x_dst = x_src[..., index_map(src, dst), :]``. Joints are matched by name, through the
    explicit tables above where the sets name or define a joint differently. A ``KeyError``
    names the first joint that ``src`` cannot provide.
    """
    src = JOINT_SETS[src] if isinstance(src, str) else src
    dst = JOINT_SETS[dst] if isinstance(dst, str) else dst
    table = _SOURCES.get((src.name, dst.name), {})
    wanted = dst.names if names is None else tuple(names)
    out = []
    for n in wanted:
        if n not in dst.names:
            raise KeyError(f"joint {n!r} is not in joint set {dst.name}")
        source = table.get(n, n)
        if source not in src.names:
            raise KeyError(f"joint set {src.name} has no joint for {dst.name}:{n}")
        out.append(src.names.index(source))
    return tuple(out)


# The 17 SPIN-24 joints SPIN evaluates MPI-INF-3DHP on (J24_TO_J17, paired with H36M_TO_J17):
# the LSP joints up to the neck, then the H36M head, pelvis, spine and jaw.
SPIN_EVAL_17: tuple[str, ...] = LSP_14.names[:13] + ("head_h36m", "pelvis_mpii", "spine_h36m", "jaw_h36m")

# SPIN's 49 joints from the 54-joint SMPL output, as its JOINT_MAP selects them (FORMATS §3.7).
SPIN_49_FROM_SMPL_54: tuple[int, ...] = (
    index_map(SMPL_54, OPENPOSE_25) + index_map(SMPL_54, SPIN_24)
)
