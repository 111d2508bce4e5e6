"""Human3.6M in VideoPose3D's file layouts, the published cameras, and the custom 2D layout.

What lives here (FORMATS §2.5–2.8):

- ``H36M_CAMERAS``-style camera records (`h36m_cameras`), normalised as VideoPose3D's
  ``Human36mDataset`` does: centre and focal length in normalised screen units (both focal
  lengths divided by the image width), translation in metres, and the 9-value ``intrinsic``.
- ``data_3d_h36m.npz`` (`load_h36m_3d`, `save_h36m_3d`): subject → action → (T, 32, 3) world
  metres, reduced to the 17 joints of ``body_models.joints.H36M_17`` on load; `h36m_camera_views`
  turns each sequence into the four camera-frame views VideoPose3D trains and evaluates on.
- ``data_2d_h36m_<source>.npz`` (`load_h36m_2d`, `save_h36m_2d`): subject → action → one
  (T, J, 2) pixel array per camera, plus the layout metadata.
- The custom in-the-wild layout ``data_2d_custom_<name>.npz`` (`load_custom_2d`,
  `save_custom_2d`) and its conversion to and from the pipeline's ``keypoints2d.npz`` arrays.

VideoPose3D stores its dicts as pickled 0-d object arrays inside the npz, and reading them with
``np.load(allow_pickle=True)`` would run whatever code the file names. These readers open the
``.npy`` member of the zip and unpickle it with ``body_models.safe_pickle.RestrictedUnpickler``
(numpy arrays, dicts, lists and strings only). Writing the same layout needs pickling too (numpy
pickles a dict value passed to ``np.savez``); our writers do that deliberately so the official
code can read our files, and write atomically.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np

from body_models.atomic import write_bytes
from body_models.cameras import normalize_screen_coordinates, world_to_camera
from body_models.errors import InputError, MissingFileError
from body_models.sequences import (  # noqa: F401 (drop_implausible_keypoints re-exported)
    KEYPOINTS2D_SCHEMA_VERSION, drop_implausible_keypoints)
from body_models.joints import COCO_17, H36M_17
from body_models.safe_pickle import load_pickle_stream
from lifting.filling import fill_missing_frames, fill_missing_joints  # noqa: F401 (re-exported)

H36M_FPS = 50.0
"""Frame rate of the Human3.6M mocap and videos (``Human36mDataset`` fps)."""

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
"""VideoPose3D's default split (FORMATS §2.12)."""

# The raw 32-joint Human3.6M skeleton as stored in data_3d_h36m.npz (FORMATS §2.6, from
# VideoPose3D's h36m_dataset.py). These are facts of the file format; the 17 joints kept are
# named in body_models.joints.H36M_17.
H36M_32_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19,
                   22, 12, 24, 25, 26, 27, 28, 27, 30)
H36M_32_REMOVED = (4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31)
H36M_32_KEPT = tuple(j for j in range(32) if j not in H36M_32_REMOVED)
"""Raw indices of the 17 joints, in ``H36M_17`` order: (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17,
18, 19, 25, 26, 27)."""


def _layout_metadata(name: str, joints) -> dict[str, Any]:
    """VideoPose3D's 2D-layout metadata (``data/data_utils.py``) for one of our joint sets."""
    return {"layout_name": name, "num_joints": len(joints.names),
            "keypoints_symmetry": [list(joints.left), list(joints.right)]}


LAYOUT_METADATA = {"coco": _layout_metadata("coco", COCO_17), "h36m": _layout_metadata("h36m", H36M_17)}
"""The ``metadata`` VideoPose3D writes for COCO-17 and H36M-17 keypoints (FORMATS §2.7)."""


# ---------------------------------------------------------------------------------------------
# Cameras (FORMATS §2.8, number for number from VideoPose3D's h36m_dataset.py)


class _Intrinsics(NamedTuple):
    id: int
    res_w: int
    res_h: int
    center_px: tuple[float, float]
    focal_length_px: tuple[float, float]
    radial_distortion: tuple[float, float, float]
    tangential_distortion: tuple[float, float]
    azimuth: int


_INTRINSICS_PX = (
    _Intrinsics(54138969, 1000, 1002, (512.54150390625, 515.4514770507812), (1145.0494384765625, 1143.7811279296875),
                (-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
                (-0.0009756988729350269, -0.00142447161488235), 70),
    _Intrinsics(55011271, 1000, 1000, (508.8486328125, 508.0649108886719), (1149.6756591796875, 1147.5916748046875),
                (-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
                (-0.0016190266469493508, -0.0027408944442868233), -70),
    _Intrinsics(58860488, 1000, 1000, (519.8158569335938, 501.40264892578125), (1149.1407470703125, 1148.7989501953125),
                (-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
                (0.0014843869721516967, -0.0007599993259645998), 110),
    _Intrinsics(60457274, 1000, 1002, (514.9682006835938, 501.88201904296875), (1145.5113525390625, 1144.77392578125),
                (-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
                (-0.0005872055771760643, -0.0018133620033040643), -110),
)
_EXTRINSICS_MM = {  # subject: per camera (orientation (w, x, y, z), position mm)
    'S1': (
        ((0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088),
         (1841.1070556640625, 4955.28466796875, 1563.4454345703125)),
        ((0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205),
         (1761.278564453125, -5078.0068359375, 1606.2650146484375)),
        ((0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696),
         (-1846.7777099609375, 5215.04638671875, 1491.972412109375)),
        ((0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435),
         (-1794.7896728515625, -3722.698974609375, 1574.8927001953125)),
    ),
    'S5': (
        ((0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332),
         (2097.3916015625, 4880.94482421875, 1605.732421875)),
        ((0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915),
         (2031.7008056640625, -5167.93310546875, 1612.923095703125)),
        ((0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576),
         (-1620.5948486328125, 5171.65869140625, 1496.43701171875)),
        ((0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092),
         (-1637.1737060546875, -3867.3173828125, 1547.033203125)),
    ),
    'S6': (
        ((0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938),
         (1935.4517822265625, 4950.24560546875, 1618.0838623046875)),
        ((0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428),
         (1969.803955078125, -5128.73876953125, 1632.77880859375)),
        ((0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334),
         (-1769.596435546875, 5185.361328125, 1476.993408203125)),
        ((0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802),
         (-1721.668701171875, -3884.13134765625, 1540.4879150390625)),
    ),
    'S7': (
        ((0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778),
         (1974.512939453125, 4926.3544921875, 1597.8326416015625)),
        ((0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508),
         (1937.0584716796875, -5119.7900390625, 1631.5665283203125)),
        ((0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278),
         (-1741.8111572265625, 5208.24951171875, 1464.8245849609375)),
        ((0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523),
         (-1734.7105712890625, -3832.42138671875, 1548.5830078125)),
    ),
    'S8': (
        ((0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773),
         (2150.65185546875, 4896.1611328125, 1611.9046630859375)),
        ((0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615),
         (2219.965576171875, -5148.453125, 1613.0440673828125)),
        ((0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755),
         (-1571.2215576171875, 5137.0185546875, 1498.1761474609375)),
        ((0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708),
         (-1476.913330078125, -3896.7412109375, 1547.97216796875)),
    ),
    'S9': (
        ((0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243),
         (2044.45849609375, 4935.1171875, 1481.2275390625)),
        ((0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801),
         (1990.959716796875, -5123.810546875, 1568.8048095703125)),
        ((0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915),
         (-1670.9921875, 5211.98583984375, 1528.387939453125)),
        ((0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822),
         (-1696.04345703125, -3827.099853515625, 1591.4127197265625)),
    ),
    'S11': (
        ((0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467),
         (2098.440185546875, 4926.5546875, 1500.278564453125)),
        ((0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085),
         (2083.182373046875, -4912.1728515625, 1561.07861328125)),
        ((0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407),
         (-1609.8153076171875, 5177.3359375, 1537.896728515625)),
        ((0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809),
         (-1590.738037109375, -3854.1689453125, 1578.017578125)),
    ),
}

H36M_CAMERA_IDS = tuple(c.id for c in _INTRINSICS_PX)
"""Camera order within every subject: index 0..3."""


@dataclass(frozen=True)
class H36MCamera:
    """One Human3.6M camera, normalised as VideoPose3D's ``Human36mDataset`` does (float32).

    Attributes:
        id: the camera's serial number, e.g. 54138969.
        res_w, res_h: image size, pixels.
        center: (2,) principal point, normalised screen coordinates.
        focal_length: (2,) fx, fy divided by res_w / 2 (both by the width).
        radial_distortion: (3,) k1, k2, k3.
        tangential_distortion: (2,) p1, p2.
        orientation: (4,) (w, x, y, z) quaternion rotating camera-frame vectors into the world, or
            None for subjects without published extrinsics (S2–S4).
        translation: (3,) camera position, metres, world frame, or None.
        azimuth: degrees, only for visualisation.
    """

    id: int
    res_w: int
    res_h: int
    center: np.ndarray
    focal_length: np.ndarray
    radial_distortion: np.ndarray
    tangential_distortion: np.ndarray
    orientation: np.ndarray | None
    translation: np.ndarray | None
    azimuth: float

    @property
    def intrinsic(self) -> np.ndarray:
        """(9,) float32 (fx, fy, cx, cy, k1, k2, k3, p1, p2) for ``body_models.cameras.project_to_2d``."""
        return np.concatenate([self.focal_length, self.center, self.radial_distortion,
                               self.tangential_distortion]).astype(np.float32)


def h36m_cameras(subject: str) -> tuple[H36MCamera, ...]:
    """The four published cameras of a Human3.6M subject, in ``H36M_CAMERA_IDS`` order.

    Args:
        subject: "S1" … "S11". S2, S3 and S4 have intrinsics only (orientation and translation
            None), as in VideoPose3D.

    Returns:
        Four ``H36MCamera``.
    """
    if subject in _EXTRINSICS_MM:
        extrinsics = _EXTRINSICS_MM[subject]
    elif subject in ("S2", "S3", "S4"):
        extrinsics = ((None, None),) * 4
    else:
        raise InputError(f"unknown Human3.6M subject {subject!r}; expected one of S1..S11")
    cams = []
    for intr, (orientation, position_mm) in zip(_INTRINSICS_PX, extrinsics):
        f32 = lambda v: np.asarray(v, dtype=np.float32)  # noqa: E731
        # float32 pixels scaled in float32, the offset subtracted in float64, then rounded, which
        # reproduces Human36mDataset's float32 values bit for bit
        center = (f32(intr.center_px) / intr.res_w * 2).astype(np.float64) - (1.0, intr.res_h / intr.res_w)
        cams.append(H36MCamera(
            id=intr.id, res_w=intr.res_w, res_h=intr.res_h,
            center=center.astype(np.float32),
            focal_length=f32(intr.focal_length_px) / intr.res_w * 2,
            radial_distortion=f32(intr.radial_distortion),
            tangential_distortion=f32(intr.tangential_distortion),
            orientation=None if orientation is None else f32(orientation),
            translation=None if position_mm is None else f32(position_mm) / 1000,  # mm → metres
            azimuth=float(intr.azimuth),
        ))
    return tuple(cams)


# ---------------------------------------------------------------------------------------------
# Reading and writing VideoPose3D's pickled npz members safely


def _read_npz_member(path: Path, key: str) -> Any:
    """Array ``key`` of an npz; a pickled object array is read with the restricted unpickler.

    A 0-d object array (how numpy stores a dict) comes back as the object itself.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"cannot read {path}: not an npz archive ({error})") from None
    with archive:
        member = f"{key}.npy"
        if member not in archive.namelist():
            keys = sorted(n[:-4] for n in archive.namelist() if n.endswith(".npy"))
            raise InputError(f"{path} has no array {key!r} (it has {keys}); is it a VideoPose3D file of this kind?")
        with archive.open(member) as stream:
            try:
                version = np.lib.format.read_magic(stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)  # v2 and v3 share the layout
                shape, fortran, dtype = read_header(stream)
            except ValueError as error:
                raise InputError(f"cannot read {path}: array {key!r} is not a valid .npy ({error})") from None
            if dtype.hasobject:
                value = load_pickle_stream(stream, f"{path} (array {key!r})")
            else:
                value = np.lib.format.read_array(io.BytesIO(archive.read(member)), allow_pickle=False)
    if isinstance(value, np.ndarray) and value.dtype.hasobject and value.shape == ():
        return value.item()
    return value


def _existing(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what} not found: {path}; see VideoPose3D's DATASETS.md for how to make it")
    return path


def _npz_bytes(**values: Any) -> bytes:
    """An npz (compressed, like VideoPose3D's) whose dict values are pickled 0-d object arrays.

    np.savez pickles any object array, so a dict passed here is stored exactly as VideoPose3D
    stores ``positions_3d`` / ``positions_2d`` / ``metadata``, and its ``np.load(...,
    allow_pickle=True)['key'].item()`` reads it back.
    """
    buffer = io.BytesIO()
    arrays = {}
    for name, value in values.items():
        if isinstance(value, dict):
            holder = np.empty((), dtype=object)
            holder[()] = value
            arrays[name] = holder
        else:
            arrays[name] = value
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """Plain Python containers and numpy arrays only (what the restricted unpickler reads back)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _dict_of(value: Any, path: Path, key: str) -> dict:
    if not isinstance(value, dict):
        raise InputError(f"{path}: {key!r} must be a pickled dict, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------------------------------
# 3D: data_3d_h36m.npz


def reduce_32_to_17(positions: np.ndarray) -> np.ndarray:
    """Keep the 17 moving joints of the raw skeleton, in ``H36M_17`` order (FORMATS §2.6).

    Args:
        positions: (..., 32, 3).

    Returns:
        (..., 17, 3).
    """
    positions = np.asarray(positions)
    if positions.ndim < 2 or positions.shape[-2:] != (32, 3):
        raise InputError(f"expected raw Human3.6M joints of shape (..., 32, 3), got {positions.shape}")
    return positions[..., H36M_32_KEPT, :]


def expand_17_to_32(positions: np.ndarray) -> np.ndarray:
    """Place H36M-17 joints in the raw 32-joint layout; each removed joint copies its parent.

    ``reduce_32_to_17`` undoes this exactly. The removed joints of the real data are static or
    duplicate markers (toes, hand tips, duplicated neck and shoulder markers), so copying the
    parent is a stand-in that official tools, which drop them, never see.

    Args:
        positions: (..., 17, 3).

    Returns:
        (..., 32, 3).
    """
    positions = np.asarray(positions)
    if positions.ndim < 2 or positions.shape[-2:] != (17, 3):
        raise InputError(f"expected H36M-17 joints of shape (..., 17, 3), got {positions.shape}")
    out = np.zeros(positions.shape[:-2] + (32, 3), dtype=positions.dtype)
    out[..., H36M_32_KEPT, :] = positions
    for joint in H36M_32_REMOVED:  # parents come before children in the raw order
        out[..., joint, :] = out[..., H36M_32_PARENTS[joint], :]
    return out


def load_h36m_3d(path: str | os.PathLike, remove_static_joints: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """Read VideoPose3D's ``data_3d_h36m.npz`` without running code from it.

    Args:
        path: the file.
        remove_static_joints: reduce the 32 raw joints to H36M-17 (what VideoPose3D trains on).

    Returns:
        subject → action → (T, 17, 3) (or (T, 32, 3)) float32, metres, world frame.
    """
    path = _existing(path, "Human3.6M 3D file (data_3d_h36m.npz)")
    data = _dict_of(_read_npz_member(path, "positions_3d"), path, "positions_3d")
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in data.items():
        actions = _dict_of(actions, path, f"positions_3d[{subject!r}]")
        out[subject] = {}
        for action, positions in actions.items():
            positions = np.asarray(positions)
            if positions.ndim != 3 or positions.shape[1:] != (32, 3):
                raise InputError(f"{path}: {subject}/{action} has shape {positions.shape}, expected (T, 32, 3) "
                                 "(the raw 32-joint Human3.6M skeleton, metres)")
            positions = positions.astype(np.float32, copy=False)
            out[subject][action] = reduce_32_to_17(positions) if remove_static_joints else positions
    return out


def save_h36m_3d(path: str | os.PathLike, positions: Mapping[str, Mapping[str, np.ndarray]]) -> Path:
    """Write ``data_3d_h36m.npz`` in VideoPose3D's layout (official code can read it).

    Args:
        path: the output file.
        positions: subject → action → (T, 32, 3) metres, world frame; (T, 17, 3) is expanded
            with `expand_17_to_32`.

    Returns:
        The path written (atomically).
    """
    data: dict[str, dict[str, np.ndarray]] = {}
    for subject, actions in positions.items():
        data[str(subject)] = {}
        for action, array in actions.items():
            array = np.asarray(array, dtype=np.float32)
            if array.ndim == 3 and array.shape[1:] == (17, 3):
                array = expand_17_to_32(array)
            if array.ndim != 3 or array.shape[1:] != (32, 3):
                raise InputError(f"{subject}/{action}: expected (T, 32, 3) or (T, 17, 3), got {array.shape}")
            data[str(subject)][str(action)] = array
    return write_bytes(path, _npz_bytes(positions_3d=data))


def h36m_camera_views(positions: Mapping[str, Mapping[str, np.ndarray]],
                      root_relative: bool = True) -> dict[str, dict[str, list[np.ndarray]]]:
    """World-frame sequences → the four camera-frame views, as VideoPose3D's run.py prepares them.

    Args:
        positions: subject → action → (T, 17, 3) metres, world frame (``load_h36m_3d``).
        root_relative: joints 1.. relative to joint 0, which keeps the camera-frame trajectory
            (run.py's ``pos_3d[:, 1:] -= pos_3d[:, :1]``).

    Returns:
        subject → action → list of four (T, 17, 3) float32 arrays, metres, camera frame.
    """
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        cams = h36m_cameras(subject)
        if cams[0].orientation is None:
            raise InputError(f"subject {subject} has no published camera extrinsics")
        out[subject] = {}
        for action, world in actions.items():
            views = []
            for cam in cams:
                view = world_to_camera(np.asarray(world, dtype=np.float32), cam.orientation, cam.translation)
                if root_relative:
                    view[:, 1:] -= view[:, :1]
                views.append(view.astype(np.float32))
            out[subject][action] = views
    return out


# ---------------------------------------------------------------------------------------------
# 2D: data_2d_h36m_<source>.npz


@dataclass
class Keypoints2DFile:
    """A VideoPose3D 2D keypoint file.

    Attributes:
        positions_2d: subject (or video) → action (or "custom") → list per camera of (T, J, 2 or
            3) float32 pixels.
        metadata: the file's metadata dict (``num_joints``, ``keypoints_symmetry``, and
            ``layout_name`` except in the ``gt`` file; ``video_metadata`` in the custom layout).
    """

    positions_2d: dict[str, dict[str, list[np.ndarray]]]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        return int(self.metadata["num_joints"])

    @property
    def layout_name(self) -> str | None:
        return self.metadata.get("layout_name")

    @property
    def keypoints_left(self) -> list[int]:
        return [int(i) for i in self.metadata["keypoints_symmetry"][0]]

    @property
    def keypoints_right(self) -> list[int]:
        return [int(i) for i in self.metadata["keypoints_symmetry"][1]]


def _check_metadata(metadata: Any, path: Path) -> dict[str, Any]:
    metadata = _dict_of(metadata, path, "metadata")
    for key in ("num_joints", "keypoints_symmetry"):
        if key not in metadata:
            raise InputError(f"{path}: metadata has no {key!r} (has {sorted(metadata)}); not a VideoPose3D 2D file")
    symmetry = metadata["keypoints_symmetry"]
    num_joints = int(metadata["num_joints"])
    if len(symmetry) != 2 or len(symmetry[0]) != len(symmetry[1]) or \
            any(not 0 <= int(i) < num_joints for side in symmetry for i in side):
        raise InputError(f"{path}: metadata keypoints_symmetry {symmetry!r:.80} is not two equal lists of joint indices")
    return metadata


def _check_sequences(positions: Any, path: Path, num_joints: int) -> dict[str, dict[str, list[np.ndarray]]]:
    positions = _dict_of(positions, path, "positions_2d")
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions.items():
        actions = _dict_of(actions, path, f"positions_2d[{subject!r}]")
        out[subject] = {}
        for action, views in actions.items():
            if not isinstance(views, (list, tuple)):
                raise InputError(f"{path}: {subject}/{action} must be a list of per-camera arrays")
            arrays = []
            for view in views:
                view = np.asarray(view)
                if view.ndim != 3 or view.shape[1] != num_joints or view.shape[2] not in (2, 3):
                    raise InputError(f"{path}: {subject}/{action} has keypoints of shape {view.shape}, expected "
                                     f"(T, {num_joints}, 2 or 3) as metadata num_joints says")
                arrays.append(view.astype(np.float32, copy=False))
            out[subject][action] = arrays
    return out


def load_h36m_2d(path: str | os.PathLike) -> Keypoints2DFile:
    """Read a ``data_2d_<dataset>_<source>.npz`` (gt, cpn, detectron, custom) without running code.

    Args:
        path: the file.

    Returns:
        A ``Keypoints2DFile``, keypoints in pixels.
    """
    path = _existing(path, "2D keypoint file (data_2d_*.npz)")
    metadata = _check_metadata(_read_npz_member(path, "metadata"), path)
    positions = _check_sequences(_read_npz_member(path, "positions_2d"), path, int(metadata["num_joints"]))
    return Keypoints2DFile(positions, metadata)


def save_h36m_2d(path: str | os.PathLike, keypoints: Keypoints2DFile) -> Path:
    """Write a 2D keypoint file in VideoPose3D's layout (the official run.py can read it).

    Returns:
        The path written (atomically).
    """
    positions = {str(s): {str(a): [np.asarray(v, dtype=np.float32) for v in views]
                          for a, views in actions.items()}
                 for s, actions in keypoints.positions_2d.items()}
    return write_bytes(path, _npz_bytes(positions_2d=positions, metadata=_plain(dict(keypoints.metadata))))


def normalized_h36m_2d(keypoints: Keypoints2DFile,
                       positions_3d: Mapping[str, Mapping[str, Sequence[np.ndarray]]] | None = None,
                       ) -> dict[str, dict[str, list[np.ndarray]]]:
    """Human3.6M 2D keypoints as the lifter takes them, like VideoPose3D's run.py.

    Each view is cut to the length of its 3D sequence when ``positions_3d`` is given (the 2D may
    be longer, never shorter), and x, y are normalised with that camera's width and height.

    Args:
        keypoints: from ``load_h36m_2d`` (subjects S1..S11, four cameras per action).
        positions_3d: optional subject → action → per-camera (T, 17, 3) (``h36m_camera_views``).

    Returns:
        subject → action → four (T, J, 2 or 3) float32 arrays, x, y normalised.
    """
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in keypoints.positions_2d.items():
        cams = h36m_cameras(subject)
        out[subject] = {}
        for action, views in actions.items():
            if len(views) != len(cams):
                raise InputError(f"{subject}/{action}: {len(views)} camera views, expected {len(cams)}")
            if positions_3d is not None:
                if subject not in positions_3d or action not in positions_3d[subject]:
                    continue  # VideoPose3D drops 2D sequences without 3D ground truth
                targets = positions_3d[subject][action]
            normalised = []
            for index, (view, cam) in enumerate(zip(views, cams)):
                view = np.array(view, dtype=np.float32)
                if positions_3d is not None:
                    frames = len(targets[index])
                    if len(view) < frames:
                        raise InputError(f"{subject}/{action} camera {index}: {len(view)} 2D frames but "
                                         f"{frames} 3D frames; 2D must cover the whole mocap sequence")
                    view = view[:frames]
                view[..., :2] = normalize_screen_coordinates(view[..., :2], w=cam.res_w, h=cam.res_h)
                normalised.append(view)
            out[subject][action] = normalised
    return out


# ---------------------------------------------------------------------------------------------
# The custom in-the-wild layout data_2d_custom_<name>.npz and our keypoints2d.npz



def load_custom_2d(path: str | os.PathLike) -> tuple[Keypoints2DFile, dict[str, tuple[int, int]]]:
    """Read a ``data_2d_custom_<name>.npz`` (one camera per video, FORMATS §2.7).

    Returns:
        The file (``positions_2d``: video → {"custom": [(T, J, 2 or 3) pixels]}) and video →
        (width, height) pixels from ``metadata['video_metadata']``.
    """
    keypoints = load_h36m_2d(path)
    videos = keypoints.metadata.get("video_metadata")
    if not isinstance(videos, dict):
        raise InputError(f"{path}: metadata has no 'video_metadata' dict; not a custom-layout 2D file")
    sizes = {}
    for video, actions in keypoints.positions_2d.items():
        if set(actions) != {"custom"} or len(actions["custom"]) != 1:
            raise InputError(f"{path}: video {video!r} must hold {{'custom': [one array]}}, has {sorted(actions)}")
        info = videos.get(video)
        if not isinstance(info, dict) or "w" not in info or "h" not in info:
            raise InputError(f"{path}: video_metadata has no 'w' and 'h' for video {video!r}")
        sizes[video] = (int(info["w"]), int(info["h"]))
    return keypoints, sizes


def save_custom_2d(path: str | os.PathLike, keypoints: Mapping[str, np.ndarray],
                   image_sizes: Mapping[str, tuple[int, int]], layout: str = "coco") -> Path:
    """Write the custom layout the official ``run.py -d custom`` reads.

    Args:
        path: the output file (VideoPose3D looks for ``data/data_2d_custom_<name>.npz``).
        keypoints: video name → (T, J, 2 or 3) pixels (x, y[, confidence]).
        image_sizes: video name → (width, height) pixels.
        layout: "coco" (the published COCO-input model) or "h36m".

    Returns:
        The path written (atomically).
    """
    if layout not in LAYOUT_METADATA:
        raise InputError(f"layout must be one of {sorted(LAYOUT_METADATA)}, got {layout!r}")
    metadata = _plain(LAYOUT_METADATA[layout])
    metadata["video_metadata"] = {}
    positions = {}
    for video, array in keypoints.items():
        array = np.asarray(array, dtype=np.float32)
        if array.ndim != 3 or array.shape[1] != metadata["num_joints"] or array.shape[2] not in (2, 3):
            raise InputError(f"video {video!r}: keypoints must be (T, {metadata['num_joints']}, 2 or 3) for "
                             f"layout {layout!r}, got {array.shape}")
        if video not in image_sizes:
            raise InputError(f"video {video!r} has no image size")
        width, height = image_sizes[video]
        positions[str(video)] = {"custom": [array]}
        metadata["video_metadata"][str(video)] = {"w": int(width), "h": int(height)}
    return write_bytes(path, _npz_bytes(positions_2d=positions, metadata=metadata))


def custom_from_keypoints2d(arrays: Mapping[str, np.ndarray], person: int = 0,
                            with_confidence: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
    """One tracked person of our ``keypoints2d.npz`` as a custom-layout sequence.

    Missing frames (``valid`` False or NaN) are filled by `fill_missing_frames`.

    Args:
        arrays: the npz's arrays (``keypoints (T, P, J, 3)``, ``valid (T, P)``, ``image_size``).
        person: index p along P.
        with_confidence: keep the third (confidence) channel.

    Returns:
        (T, J, 2 or 3) float32 pixels, and (width, height).
    """
    for key in ("keypoints", "valid", "image_size"):
        if key not in arrays:
            raise InputError(f"keypoints2d arrays have no {key!r} (have {sorted(arrays)})")
    keypoints = np.asarray(arrays["keypoints"])
    if keypoints.ndim != 4 or keypoints.shape[-1] != 3:
        raise InputError(f"keypoints2d 'keypoints' must be (T, P, J, 3), got {keypoints.shape}")
    if not 0 <= person < keypoints.shape[1]:
        raise InputError(f"person {person} out of range: the file tracks {keypoints.shape[1]} people")
    sequence, _ = fill_missing_frames(keypoints[:, person], np.asarray(arrays["valid"])[:, person])
    width, height = (int(v) for v in np.asarray(arrays["image_size"]).reshape(2))
    return (sequence if with_confidence else sequence[..., :2]), (width, height)


def keypoints2d_from_custom(keypoints: np.ndarray, image_size: tuple[int, int], fps: float | None = None,
                            joint_names: Sequence[str] = COCO_17.names) -> dict[str, np.ndarray]:
    """A custom-layout sequence as the arrays of our ``keypoints2d.npz`` (one person, P = 1).

    Frames with non-finite x, y are stored as NaN with ``valid`` False; confidence is 1 where
    the file has none. Boxes are the keypoints' bounding boxes.

    Args:
        keypoints: (T, J, 2 or 3) pixels.
        image_size: (width, height) pixels.
        fps: frames per second; NaN when unknown (VideoPose3D's custom data has none).
        joint_names: (J,) names, COCO-17 by default.

    Returns:
        The arrays, ready for ``body_models.atomic.save_npz``.
    """
    keypoints = np.asarray(keypoints, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[2] not in (2, 3) or keypoints.shape[1] != len(joint_names):
        raise InputError(f"keypoints must be (T, {len(joint_names)}, 2 or 3), got {keypoints.shape}")
    frames = len(keypoints)
    if keypoints.shape[2] == 2:
        keypoints = np.concatenate([keypoints, np.ones_like(keypoints[..., :1])], axis=-1)
    valid = np.isfinite(keypoints[..., :2]).all(axis=(1, 2))
    keypoints = np.where(valid[:, None, None], keypoints, np.nan).astype(np.float32)
    boxes = np.full((frames, 4), np.nan, dtype=np.float32)
    if valid.any():
        boxes[valid] = np.concatenate([keypoints[valid, :, :2].min(axis=1), keypoints[valid, :, :2].max(axis=1)], -1)
    return {
        "schema_version": np.int64(KEYPOINTS2D_SCHEMA_VERSION),
        "keypoints": keypoints[:, None],
        "boxes": boxes[:, None],
        "valid": valid[:, None],
        "track_ids": np.zeros(1, dtype=np.int64),
        "joint_names": np.array(joint_names),
        "image_size": np.array(image_size, dtype=np.int64).reshape(2),
        "fps": np.float64(np.nan if fps is None else fps),
        "frame_indices": np.arange(frames, dtype=np.int64),
    }
