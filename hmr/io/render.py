"""Mesh rendering over video frames, headless.

Backends, chosen by ``backend="auto"`` in this order (measurements in
``shared/docs/RENDERING_VIDEO.md`` and ``benchmarks/bench_render.py``):

- ``pytorch3d``: when it imports and CUDA is available (on CPU it takes about a minute a frame);
- ``moderngl``: OpenGL through a headless EGL context (Mesa llvmpipe on CPU machines);
- ``painter``: numpy + OpenCV painter's algorithm, for machines without any GL.

All backends take meshes in the camera frame (OpenCV: x right, y down, z forward, metres) and a
pinhole camera (focal length and principal point in pixels), and return an RGB image with an
alpha mask, so overlays look the same whichever backend drew them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from body_models.errors import HMRError

__all__ = [
    "AMBIENT",
    "Camera",
    "LIGHT_DIRECTION",
    "MESH_COLOR",
    "MeshRenderer",
    "available_backends",
    "vertex_normals",
]

MESH_COLOR = (0.78, 0.70, 0.62)  # the mannequin's clay colour, RGB in [0, 1]
LIGHT_DIRECTION = np.array([0.3, -0.4, -1.0])  # towards the light, camera frame (from the camera, above)
AMBIENT = 0.35


@dataclass(frozen=True)
class Camera:
    """A pinhole camera. Pixels: u = f·x/z + cx, v = f·y/z + cy.

    Attributes:
        width, height: image size, pixels.
        focal_length: (fx, fy) pixels.
        principal_point: (cx, cy) pixels.
    """

    width: int
    height: int
    focal_length: tuple[float, float]
    principal_point: tuple[float, float]

    @classmethod
    def simple(cls, width: int, height: int, focal_length: float) -> "Camera":
        """A camera with square pixels and the principal point at the image centre."""
        return cls(width, height, (focal_length, focal_length), (width / 2.0, height / 2.0))

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame metres → (..., 2) pixels."""
        z = points[..., 2:3]
        return points[..., :2] / z * np.asarray(self.focal_length) + np.asarray(self.principal_point)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals: area-weighted sums of the adjacent face normals."""
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _shade(normals: np.ndarray, color: Sequence[float], light_direction: np.ndarray = LIGHT_DIRECTION,
           ambient: float = AMBIENT) -> np.ndarray:
    """Lambert shading with a light from the camera side; (..., 3) normals → (..., 3) RGB [0, 1].

    Normals may face away from the light on either side (meshes are shaded two-sided)."""
    light = np.asarray(light_direction, np.float64) / np.linalg.norm(light_direction)
    lambert = np.abs(normals @ light)
    return np.clip((ambient + (1 - ambient) * lambert)[..., None] * np.asarray(color), 0, 1)


class MeshRenderer:
    """Draws triangle meshes seen by one camera.

    Args:
        camera: the pinhole camera.
        backend: ``"auto"``, ``"pytorch3d"``, ``"moderngl"`` or ``"painter"``.
    """

    def __init__(self, camera: Camera, backend: str = "auto") -> None:
        self.camera = camera
        self.backend = _choose_backend(backend)
        self._gl = _ModernGL(camera) if self.backend == "moderngl" else None
        self.lighting = (LIGHT_DIRECTION, AMBIENT)

    def set_camera(self, camera: Camera) -> None:
        """Render later meshes through ``camera`` (same image size as before)."""
        if (camera.width, camera.height) != (self.camera.width, self.camera.height):
            raise ValueError("set_camera keeps the image size; make a new MeshRenderer for another size")
        self.camera = camera
        if self._gl is not None:
            self._gl.set_intrinsics(camera)

    def set_lighting(self, light_direction: Sequence[float], ambient: float) -> None:
        """Light later renders from ``light_direction`` (towards the light, camera frame) with
        ``ambient`` in [0, 1] (the synthetic image world varies both)."""
        self.lighting = (np.asarray(light_direction, np.float64), float(ambient))

    def render(self, meshes: Sequence[tuple[np.ndarray, np.ndarray]],
               colors: Sequence[Sequence[float]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Render meshes into an empty image.

        Args:
            meshes: (vertices (V, 3) metres camera frame, faces (F, 3)) per person.
            colors: RGB in [0, 1] per mesh; the clay colour by default.

        Returns:
            (rgb (H, W, 3) uint8, alpha (H, W) bool), where alpha marks covered pixels.
        """
        colors = list(colors) if colors is not None else [MESH_COLOR] * len(meshes)
        meshes = [(np.asarray(v, np.float64), np.asarray(f, np.int64)) for v, f in meshes
                  if np.isfinite(np.asarray(v)).all()]
        if self.backend == "moderngl":
            return self._gl.render(meshes, colors, self.lighting)
        if self.backend == "pytorch3d":  # pragma: no cover - needs CUDA
            return _render_pytorch3d(self.camera, meshes, colors, self.lighting)
        return _render_painter(self.camera, meshes, colors, self.lighting)

    def overlay(self, frame: np.ndarray, meshes: Sequence[tuple[np.ndarray, np.ndarray]],
                opacity: float = 0.85, colors=None) -> np.ndarray:
        """``frame`` (H, W, 3) uint8 with the meshes blended on top, inside their bounding box only."""
        rgb, alpha = self.render(meshes, colors)
        out = frame.copy()
        ys, xs = np.nonzero(alpha)
        if len(ys) == 0:
            return out
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        weight = (alpha[box] * int(round(opacity * 256)))[..., None].astype(np.uint16)
        out[box] = ((rgb[box].astype(np.uint16) * weight + out[box].astype(np.uint16) * (256 - weight)) >> 8).astype(np.uint8)
        return out


def available_backends() -> list[str]:
    """The backends that work on this machine, in ``auto``'s order of preference."""
    found = []
    try:
        import pytorch3d  # noqa: F401
        import torch

        if torch.cuda.is_available():
            found.append("pytorch3d")
    except ImportError:
        pass
    try:
        import moderngl

        moderngl.create_context(standalone=True, backend="egl").release()
        found.append("moderngl")
    except Exception:  # noqa: BLE001 - no EGL, no driver, no moderngl: all mean "not here"
        pass
    try:
        import cv2  # noqa: F401

        found.append("painter")
    except ImportError:
        pass
    return found


def _choose_backend(backend: str) -> str:
    if backend not in ("auto", "pytorch3d", "moderngl", "painter"):
        raise HMRError(f"unknown renderer {backend!r}; choose auto, pytorch3d, moderngl or painter")
    found = available_backends()
    if backend == "auto":
        if not found:
            raise HMRError("no mesh renderer works here: install moderngl (and Mesa EGL: apt-get install "
                           "libegl1 libgl1-mesa-dri) or opencv-python-headless")
        return found[0]
    if backend not in found:
        raise HMRError(f"renderer {backend!r} is not available here (available: {', '.join(found) or 'none'})")
    return backend


# ---------------------------------------------------------------------------------------------
# moderngl (EGL)

_VERTEX_SHADER = """
#version 330
uniform vec2 focal;
uniform vec2 center;
uniform vec2 size;
uniform float near;
uniform float far;
in vec3 in_position;
in vec3 in_color;
out vec3 color;
void main() {
    // OpenCV camera frame (x right, y down, z forward) to clip space; pixel (u, v) of the image
    // row v from the top maps to NDC y = 1 - 2 v / H.
    float z = in_position.z;
    vec2 uv = in_position.xy / z * focal + center;
    vec2 ndc = vec2(2.0 * uv.x / size.x - 1.0, 1.0 - 2.0 * uv.y / size.y);
    float depth = (far + near) / (far - near) - 2.0 * far * near / ((far - near) * z);
    gl_Position = vec4(ndc * z, depth * z, z);
    color = in_color;
}
"""

_FRAGMENT_SHADER = """
#version 330
in vec3 color;
out vec4 frag;
void main() { frag = vec4(color, 1.0); }
"""


class _ModernGL:
    def __init__(self, camera: Camera) -> None:
        import moderngl

        self.camera = camera
        self.ctx = moderngl.create_context(standalone=True, backend="egl")
        self.ctx.enable(moderngl.DEPTH_TEST)
        self.program = self.ctx.program(vertex_shader=_VERTEX_SHADER, fragment_shader=_FRAGMENT_SHADER)
        self.set_intrinsics(camera)
        self.program["size"].value = (float(camera.width), float(camera.height))
        self.program["near"].value = 0.05
        self.program["far"].value = 100.0
        self.fbo = self.ctx.simple_framebuffer((camera.width, camera.height), components=4)

    def set_intrinsics(self, camera: Camera) -> None:
        self.camera = camera
        self.program["focal"].value = tuple(float(v) for v in camera.focal_length)
        self.program["center"].value = tuple(float(v) for v in camera.principal_point)

    def render(self, meshes, colors, lighting) -> tuple[np.ndarray, np.ndarray]:
        self.fbo.use()
        self.fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        for (vertices, faces), color in zip(meshes, colors):
            shaded = _shade(vertex_normals(vertices, faces), color, *lighting)
            data = np.concatenate([vertices, shaded], axis=1).astype("f4")
            vbo = self.ctx.buffer(data.tobytes())
            ibo = self.ctx.buffer(faces.astype("i4").tobytes())
            vao = self.ctx.vertex_array(self.program, [(vbo, "3f 3f", "in_position", "in_color")], ibo)
            vao.render()
            vao.release()
            vbo.release()
            ibo.release()
        pixels = np.frombuffer(self.fbo.read(components=4), dtype=np.uint8)
        image = pixels.reshape(self.camera.height, self.camera.width, 4)[::-1]  # GL rows start at the bottom
        return np.ascontiguousarray(image[..., :3]), image[..., 3] > 0


# ---------------------------------------------------------------------------------------------
# painter's algorithm (numpy + OpenCV), the no-GL fallback


def _render_painter(camera: Camera, meshes, colors, lighting=(LIGHT_DIRECTION, AMBIENT)) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    image = np.zeros((camera.height, camera.width, 3), np.uint8)
    alpha = np.zeros((camera.height, camera.width), np.uint8)
    triangles, depths, fills = [], [], []
    for (vertices, faces), color in zip(meshes, colors):
        tri = vertices[faces]  # (F, 3, 3)
        in_front = (tri[..., 2] > 0.05).all(axis=1)
        tri, faces = tri[in_front], faces[in_front]
        normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        triangles.append(camera.project(tri))
        depths.append(tri[..., 2].mean(axis=1))
        fills.append((_shade(normals, color, *lighting) * 255).astype(np.uint8))
    if not triangles:
        return image, alpha > 0
    triangles, depths, fills = np.concatenate(triangles), np.concatenate(depths), np.concatenate(fills)
    shift = 4  # sub-pixel precision for cv2's integer vertices
    points = np.round(triangles * (1 << shift)).astype(np.int32)
    for i in np.argsort(-depths):  # far to near: nearer triangles paint over farther ones
        cv2.fillConvexPoly(image, points[i], tuple(int(c) for c in fills[i]), lineType=cv2.LINE_8, shift=shift)
        cv2.fillConvexPoly(alpha, points[i], 255, lineType=cv2.LINE_8, shift=shift)
    return image, alpha > 0


def _render_pytorch3d(camera: Camera, meshes, colors, lighting=(LIGHT_DIRECTION, AMBIENT)):  # pragma: no cover - needs CUDA
    import torch
    from pytorch3d.renderer import (MeshRasterizer, PerspectiveCameras, RasterizationSettings)
    from pytorch3d.structures import Meshes

    device = torch.device("cuda")
    verts = [torch.as_tensor(v * np.array([-1.0, -1.0, 1.0]), dtype=torch.float32, device=device) for v, _ in meshes]
    faces = [torch.as_tensor(f, dtype=torch.int64, device=device) for _, f in meshes]
    if not verts:
        return np.zeros((camera.height, camera.width, 3), np.uint8), np.zeros((camera.height, camera.width), bool)
    joined = Meshes(verts=verts, faces=faces)
    joined = Meshes(verts=[joined.verts_packed()], faces=[joined.faces_packed()])
    cams = PerspectiveCameras(focal_length=(camera.focal_length,), principal_point=(camera.principal_point,),
                              image_size=((camera.height, camera.width),), in_ndc=False, device=device)
    raster = MeshRasterizer(cameras=cams, raster_settings=RasterizationSettings(
        image_size=(camera.height, camera.width), faces_per_pixel=1))
    fragments = raster(joined)
    face_index = fragments.pix_to_face[0, ..., 0].cpu().numpy()
    all_verts = np.concatenate([v for v, _ in meshes])
    offsets = np.cumsum([0] + [len(v) for v, _ in meshes])
    all_faces = np.concatenate([f + o for (_, f), o in zip(meshes, offsets)])
    face_colors = np.concatenate([np.repeat([c], len(f), 0) for (_, f), c in zip(meshes, colors)])
    tri = all_verts[all_faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    shaded = (_shade(normals, (1, 1, 1), *lighting) * face_colors * 255).astype(np.uint8)
    covered = face_index >= 0
    image = np.zeros((camera.height, camera.width, 3), np.uint8)
    image[covered] = shaded[face_index[covered]]
    return image, covered
