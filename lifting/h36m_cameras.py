"""The published Human3.6M cameras, number for number from VideoPose3D's ``h36m_dataset.py``.

``h36m_cameras(subject)`` gives a subject's four cameras normalised as VideoPose3D's
``Human36mDataset`` does (FORMATS §2.8): centre and focal length in normalised screen units (both
focal lengths divided by the image width), translation in metres, and the 9-value ``intrinsic``
that ``body_models.cameras.project_to_2d`` takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from body_models.errors import InputError

__all__ = ["H36M_CAMERA_IDS", "H36MCamera", "h36m_cameras"]


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
