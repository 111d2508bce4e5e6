"""The mannequin's implicit body: tapered elliptic capsules (``Limb``) and their smooth union.

An implicit field is negative inside the body, zero on its surface and roughly metric near it.
``union_field`` evaluates the union at any points; ``grid_field`` samples it on the regular grid
that ``marching`` extracts the surface from; ``project`` moves points onto the surface, which
``remesh`` uses to keep vertices on it. Plain numpy/scipy and deterministic: the same inputs give
the same bytes.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy.interpolate import CubicSpline


class Limb:
    """A generalised tapered capsule around the segment ``a`` → ``b``.

    The cross-section at axis parameter ``t`` in [0, 1] is an ellipse with semi-axes
    ``r1(t)`` along ``e1`` and ``r2(t)`` along ``e2`` (``e1`` is ``hint`` made orthogonal to the
    axis, ``e2 = u × e1``), centred at ``a + t (b - a) + o1(t) e1 + o2(t) e2``. Beyond the ends
    the surface closes with half-ellipsoids of axial semi-axis ``cap_a`` / ``cap_b``. Radius and
    offset profiles given at several knots are interpolated with a natural cubic spline, so the
    surface is smooth along the axis. ``a == b`` gives an ellipsoid (axis ``hint_axis``).

    The field is the normalised elliptic distance ``(s - 1) · min(radii)``: negative inside,
    zero on the surface and roughly metric near it.

    Args:
        a, b: (3,) metres, the axis end points.
        knots: (K,) axis parameters of the profile samples, increasing from 0 to 1.
        r1, r2: (K,) metres, semi-axes along ``e1`` and ``e2`` at the knots.
        hint: (3,) direction the first cross-section axis ``e1`` leans to.
        cap_a, cap_b: metres, axial semi-axes of the end caps (default: the smaller radius).
        o1, o2: (K,) metres, offsets of the section centre along ``e1`` and ``e2``.
        blend: metres, radius of the smooth union with what came before.
        owner: name of the joint (``joints.SMPL_24``) whose bone this primitive dresses.
        hint_axis: (3,) the axis of a degenerate (``a == b``) primitive.
    """

    def __init__(self, a, b, knots, r1, r2, hint, cap_a=None, cap_b=None, o1=None, o2=None,
                 blend=0.02, owner="pelvis", hint_axis=(0.0, 1.0, 0.0)):
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        axis = self.b - self.a
        self.length = float(np.linalg.norm(axis))
        u = axis / self.length if self.length > 1e-12 else np.asarray(hint_axis, np.float64)
        u = u / np.linalg.norm(u)
        h = np.asarray(hint, dtype=np.float64)
        e1 = h - (h @ u) * u
        e1 /= np.linalg.norm(e1)
        self.u, self.e1, self.e2 = u, e1, np.cross(u, e1)
        self.knots = np.asarray(knots, dtype=np.float64)
        k = len(self.knots)
        zeros = np.zeros(k)
        self._profiles = np.stack([np.broadcast_to(np.asarray(v, np.float64), (k,))
                                   for v in (r1, r2, zeros if o1 is None else o1,
                                             zeros if o2 is None else o2)], axis=1)
        self._spline = (CubicSpline(self.knots, self._profiles, bc_type="natural")
                        if k > 2 else None)
        r_end_a, r_end_b = self.profiles(np.array([0.0, 1.0]))[:, :2].min(axis=1)
        self.cap_a = float(r_end_a if cap_a is None else cap_a)
        self.cap_b = float(r_end_b if cap_b is None else cap_b)
        self.blend = float(blend)
        self.owner = owner
        # Axis-aligned box outside which the field is certainly above ``margin``.
        rmax = max(float(np.abs(self._profiles[:, :2]).max() + np.abs(self._profiles[:, 2:]).max()),
                   self.cap_a, self.cap_b)
        margin = rmax + 3.0 * self.blend + 0.03
        self.lo = np.minimum(self.a, self.b) - margin
        self.hi = np.maximum(self.a, self.b) + margin

    def profiles(self, t: np.ndarray) -> np.ndarray:
        """(N, 4) r1, r2, o1, o2 in metres at axis parameters ``t`` (N,) in [0, 1]."""
        if self._spline is None:
            p0, p1 = self._profiles
            return p0 + t[:, None] * (p1 - p0)
        return self._spline(t)

    def axis_point(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closest point on the (offset) axis and its parameter.

        Args:
            p: (N, 3) metres.

        Returns:
            (N, 3) metres, axis points; (N,) parameters in [0, 1].
        """
        d = p - self.a
        t = np.clip(d @ self.u / self.length, 0.0, 1.0) if self.length > 1e-12 else np.zeros(len(p))
        prof = self.profiles(t)
        c = (self.a + (t * self.length)[:, None] * self.u
             + prof[:, 2:3] * self.e1 + prof[:, 3:4] * self.e2)
        return c, t

    def field(self, p: np.ndarray) -> np.ndarray:
        """Field values (N,) (metres, approximately) at points ``p`` (N, 3) metres."""
        d = p - self.a
        ta = d @ self.u
        if self.length > 1e-12:
            t = np.clip(ta / self.length, 0.0, 1.0)
            q3 = ta - t * self.length
        else:
            t = np.zeros(len(p))
            q3 = ta
        prof = self.profiles(t)
        q = d - (t * self.length)[:, None] * self.u
        q1 = q @ self.e1 - prof[:, 2]
        q2 = q @ self.e2 - prof[:, 3]
        r3 = np.where(q3 < 0, self.cap_a, self.cap_b)
        s = np.sqrt((q1 / prof[:, 0]) ** 2 + (q2 / prof[:, 1]) ** 2 + (q3 / r3) ** 2)
        rmin = np.minimum(np.minimum(prof[:, 0], prof[:, 1]), np.where(q3 != 0, r3, np.inf))
        return (s - 1.0) * rmin


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two fields with blend radius ``k`` (metres)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + h * (a - b) - k * h * (1.0 - h)


FAR = 1.0  # metres: field value where no primitive is near

# An item of the smooth union is one primitive, or a tuple of primitives (a mirror pair that
# overlaps) united among themselves first, so that the union stays exactly left/right symmetric.


def flatten(items: Sequence[Limb | tuple[Limb, ...]]) -> list[Limb]:
    """The primitives of union items, in order."""
    out = []
    for it in items:
        out.extend(it if isinstance(it, tuple) else (it,))
    return out


def _members(item) -> tuple[Limb, ...]:
    return item if isinstance(item, tuple) else (item,)


def union_field(items: Sequence[Limb | tuple[Limb, ...]], p: np.ndarray) -> np.ndarray:
    """Smooth union of primitives in order, each blended with its own radius.

    Args:
        items: primitives, or tuples of primitives united among themselves first.
        p: (N, 3) metres.

    Returns:
        (N,) field values, negative inside the body.
    """
    f = np.full(len(p), FAR)
    x, y, z = np.ascontiguousarray(p.T)
    for item in items:
        g = np.full(len(p), FAR)
        hit = np.zeros(len(p), dtype=bool)
        for prim in _members(item):
            lo, hi = prim.lo, prim.hi
            m = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]) & (z >= lo[2]) & (z <= hi[2])
            idx = np.flatnonzero(m)
            if len(idx):
                g[idx] = smooth_min(g[idx], prim.field(p[idx]), prim.blend)
                hit |= m
        idx = np.flatnonzero(hit)
        if len(idx):
            f[idx] = smooth_min(f[idx], g[idx], _members(item)[0].blend)
    return f


def grid_field(items: Sequence[Limb | tuple[Limb, ...]], origin: np.ndarray, h: float,
               shape: tuple[int, int, int]) -> np.ndarray:
    """The union field sampled on a regular grid, evaluating each primitive only in its box.

    Args:
        items: as for ``union_field``.
        origin: (3,) metres, position of grid point (0, 0, 0).
        h: metres, grid spacing.
        shape: grid points along x, y, z.

    Returns:
        (nx, ny, nz) field values: ``union_field`` at the grid points.
    """
    f = np.full(shape, FAR)
    axes = [origin[i] + h * np.arange(shape[i]) for i in range(3)]

    def box(lo, hi):
        sl = []
        for i in range(3):
            a = int(np.clip(np.ceil((lo[i] - origin[i]) / h - 1e-9), 0, shape[i]))
            b = int(np.clip(np.floor((hi[i] - origin[i]) / h + 1e-9) + 1, 0, shape[i]))
            sl.append(slice(a, b))
        return tuple(sl)

    for item in items:
        members = _members(item)
        outer = box(np.min([m.lo for m in members], 0), np.max([m.hi for m in members], 0))
        if any(s.stop <= s.start for s in outer):
            continue
        g = np.full(tuple(s.stop - s.start for s in outer), FAR)
        hit = np.zeros(g.shape, dtype=bool)
        for prim in members:
            sl = box(prim.lo, prim.hi)
            if any(s.stop <= s.start for s in sl):
                continue
            gx, gy, gz = np.meshgrid(axes[0][sl[0]], axes[1][sl[1]], axes[2][sl[2]], indexing="ij")
            pts = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1)
            local = tuple(slice(s.start - o.start, s.stop - o.start) for s, o in zip(sl, outer))
            block = g[local]
            g[local] = smooth_min(block.ravel(), prim.field(pts), prim.blend).reshape(block.shape)
            hit[local] = True
        block = f[outer]
        f[outer] = np.where(hit, smooth_min(block, g, members[0].blend), block)
    return f


def field_gradient(fn: Callable[[np.ndarray], np.ndarray], p: np.ndarray,
                   f0: np.ndarray | None = None, eps: float = 1e-6) -> np.ndarray:
    """Forward-difference gradient (N, 3) of ``fn`` at points ``p`` (N, 3) metres.

    ``f0`` (N,) are the values at ``p`` when already known.
    """
    if f0 is None:
        f0 = fn(p)
    vals = fn((p[None, :, :] + (np.eye(3) * eps)[:, None, :]).reshape(-1, 3)).reshape(3, len(p))
    return ((vals - f0) / eps).T


def project(fn: Callable[[np.ndarray], np.ndarray], p: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Move points onto the zero set of ``fn`` by Newton steps along the gradient.

    Args:
        fn: field, (N, 3) metres → (N,).
        p: (N, 3) metres, points near the surface.
        iterations: Newton steps.

    Returns:
        (N, 3) metres.
    """
    p = p.copy()
    for _ in range(iterations):
        f = fn(p)
        g = field_gradient(fn, p, f)
        step = f / np.maximum((g * g).sum(axis=1), 1e-12)
        # Steps of at most 1 cm keep points on thin parts from jumping across.
        step = np.clip(step, -0.01, 0.01)
        p -= step[:, None] * g
    return p
