"""A synthetic image world: the mannequin in varied poses, looks and cameras, as a COCO keypoint set.

``make_synthetic_images(out_dir, num, seed)`` renders ``num`` images of one person each (the
mannequin, ``body_models.mannequin``) with the project's headless renderer (``hmr.io.render``) and
writes them as a COCO-format keypoint dataset, so that training and evaluation read it through
the same code path as a real dataset::

    out_dir/images/{train,val}/000000.jpg
    out_dir/annotations/person_keypoints_{train,val}.json

Every image is a pure function of ``(seed, index)``: the same arguments give the same files, an
interrupted run is resumed by running the same command again (images already on disk are kept),
and the held-out split (``val``, the last ``val_fraction`` of the indices) never shares a pose,
a look or a camera with the training split.

What varies (domain randomisation, so that a model cannot learn one look):

- pose: half from procedural motion (``body_models.motion.sample_poses``, every kind equally or
  by ``WorldConfig.motion_weights``), half drawn from the mannequin's GMM pose prior
  (``body_models.mannequin.gmm_prior_path``) and clamped to the joint limits (the split is
  ``WorldConfig.prior_fraction``); a random heading, lean and shape β;
- looks: per-part colours (skin, shirt, trousers, shoes) with optional clothing-like bands,
  lighting direction, colour and ambient level;
- background: noise, gradients, stripes, checkerboard floors and clutter shapes, or (with
  ``WorldConfig.floor_prob``) a tiled or plain floor under the feet, seen from the image's camera;
- camera: focal length, elevation, azimuth (the heading), distance through the person's size in
  the image, position (with truncation at the border);
- occluding shapes, blur, sensor noise and JPEG quality.

Each annotation holds the COCO fields (``keypoints`` 17 × (x, y, v) pixels, ``bbox`` x, y, w, h
pixels, ``area``, ``num_keypoints``, ``iscrowd``, ``category_id`` 1) and, for the HMR regressor,
the ground truth of the body: ``smpl`` (``global_orient`` (3,), ``body_pose`` (69,) axis-angle
radians and ``transl`` (3,) metres, in the camera frame; ``betas`` (10,)), ``camera``
(``focal_length`` (fx, fy) and ``principal_point`` (cx, cy) pixels; x right, y down, z forward),
``joints3d_coco`` (17, 3) and ``joints3d_smpl`` (24, 3) metres in the camera frame, and
``keypoints_projected`` (17, 2) pixels, the projection of every joint including those outside
the image. Visibility v: 2 seen, 1 inside the image but hidden (self-occlusion from the mesh's
depth at the joint's pixel, or an occluding shape), 0 outside the image (x = y = 0, as COCO).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from body_models import joints as js
from body_models.atomic import write_bytes, write_text
from body_models.errors import InputError
from body_models.progress import Progress, StageCounter, as_progress, no_progress
from body_models.rotations import axis_angle_to_matrix
from body_models.smpl import SMPL, load_smpl, rigid_transform_params
from hmr.io.render import Camera, MeshRenderer

__all__ = ["SPLITS", "WorldConfig", "annotation_path", "floor_background", "make_synthetic_images", "render_sample"]

SPLITS = ("train", "val")
SCHEMA_VERSION = 1
# A joint is seen when the mesh surface in front of it at its pixel lies within this distance
# of the joint (the joint's own limb); farther means another part covers it.
VISIBLE_DEPTH_TOLERANCE = 0.16  # metres
BODY_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # SMPL's y up, facing +z → camera y down, z forward


@dataclass(frozen=True)
class WorldConfig:
    """Ranges the world draws from.

    Attributes:
        image_size: (width, height) pixels of every image.
        focal_range: focal length range, pixels.
        elevation_range: camera elevation above the body, degrees.
        height_range: the person's box height as a fraction of the image height.
        truncation_prob: probability that the person is pushed partly out of the image.
        occluder_prob: probability of one or more occluding shapes over the person.
        prior_fraction: fraction of poses drawn from the GMM prior (the rest from motion).
        val_fraction: fraction of indices in the held-out split.
        motion_weights: ((kind, weight), ...) relative weights of the procedural motion kinds
            (``body_models.motion.MOTION_KINDS``) for the motion poses; empty: all kinds equally.
        floor_prob: probability that the person stands on a floor seen in perspective from the
            image's camera (``floor_background``), instead of a flat background.
    """

    image_size: tuple[int, int] = (384, 288)
    focal_range: tuple[float, float] = (300.0, 1200.0)
    elevation_range: tuple[float, float] = (-10.0, 35.0)
    height_range: tuple[float, float] = (0.35, 0.95)
    truncation_prob: float = 0.15
    occluder_prob: float = 0.3
    prior_fraction: float = 0.5
    val_fraction: float = 0.1
    motion_weights: tuple[tuple[str, float], ...] = ()
    floor_prob: float = 0.0


def annotation_path(root: str | os.PathLike, split: str) -> Path:
    """``root/annotations/person_keypoints_<split>.json``."""
    return Path(root) / "annotations" / f"person_keypoints_{split}.json"


def _split_of(index: int, num: int, val_fraction: float) -> str:
    num_val = int(round(num * val_fraction)) if num > 1 else 0
    return "val" if index >= num - num_val else "train"


# ---------------------------------------------------------------------------------------------
# body parts and looks

_PART_OF_JOINT = {  # SMPL-24 joint → look region
    "pelvis": "trousers", "left_hip": "trousers", "right_hip": "trousers",
    "left_knee": "shins", "right_knee": "shins", "left_ankle": "shoes", "right_ankle": "shoes",
    "left_foot": "shoes", "right_foot": "shoes",
    "spine1": "shirt", "spine2": "shirt", "spine3": "shirt", "neck": "skin", "head": "skin",
    "left_collar": "shirt", "right_collar": "shirt", "left_shoulder": "sleeves", "right_shoulder": "sleeves",
    "left_elbow": "forearms", "right_elbow": "forearms", "left_wrist": "skin", "right_wrist": "skin",
    "left_hand": "skin", "right_hand": "skin",
}
_REGIONS = ("skin", "shirt", "sleeves", "forearms", "trousers", "shins", "shoes")


class _Body:
    """The mannequin plus what the world needs from it: face regions and COCO regressors."""

    def __init__(self, smpl: SMPL) -> None:
        self.smpl = smpl
        faces = smpl.faces
        weights = smpl.smplx.lbs_weights.numpy()  # (V, 24)
        owner = weights[faces].sum(1).argmax(1)  # (F,) the joint that moves each face most
        region = np.array([_REGIONS.index(_PART_OF_JOINT[js.SMPL_24.names[j]]) for j in owner])
        self.faces = faces
        self.face_region = region
        rest = smpl.smplx.v_template.numpy()
        self.face_height = rest[faces].mean(1)[:, 1]  # rest-pose height of each face, metres

    def pose(self, global_orient: np.ndarray, body_pose: np.ndarray, betas: np.ndarray):
        """Vertices (V, 3), COCO-17 (17, 3), SMPL-24 (24, 3) joints in the body frame, metres."""
        with torch.no_grad():
            out = self.smpl(global_orient=torch.as_tensor(global_orient[None], dtype=torch.float32),
                            body_pose=torch.as_tensor(body_pose[None], dtype=torch.float32),
                            betas=torch.as_tensor(betas[None], dtype=torch.float32))
        return (out.vertices[0].numpy().astype(np.float64), out.joint_set("coco_17")[0].numpy().astype(np.float64),
                out.joints[0].numpy().astype(np.float64))


def _look(rng: np.random.Generator, body: _Body) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
    """Face groups with one colour each: per-region colours, bands on some clothes."""
    skin = np.array([0.95, 0.78, 0.65]) * rng.uniform(0.35, 1.05)
    shirt, trousers, shoes = rng.uniform(0.05, 0.95, (3, 3))
    long_sleeves, long_trousers = rng.random() < 0.5, rng.random() < 0.7
    colours = {"skin": skin, "shirt": shirt, "sleeves": shirt, "forearms": shirt if long_sleeves else skin,
               "trousers": trousers, "shins": trousers if long_trousers else skin, "shoes": shoes}
    if rng.random() < 0.25:  # a one-colour mannequin: the model must not rely on colour edges
        colours = {k: shirt for k in colours}
    groups = []
    stripe = rng.uniform(0.05, 0.95, 3)
    band_width = rng.uniform(0.03, 0.12)
    banded = {"shirt": rng.random() < 0.3, "trousers": rng.random() < 0.15}
    for r, name in enumerate(_REGIONS):
        faces = np.nonzero(body.face_region == r)[0]
        base = colours[name]
        clothing = "shirt" if name in ("shirt", "sleeves") else "trousers" if name in ("trousers", "shins") else None
        if clothing and banded[clothing] and colours[name] is not skin:
            odd = (np.floor(body.face_height[faces] / band_width).astype(int) % 2) == 1
            groups.append((faces[odd], tuple(stripe)))
            faces = faces[~odd]
        groups.append((faces, tuple(np.clip(base, 0, 1))))
    return [(body.faces[f], c) for f, c in groups if len(f)]


# ---------------------------------------------------------------------------------------------
# backgrounds, occluders and image degradation


def _noise_field(rng: np.random.Generator, w: int, h: int, cells: int) -> np.ndarray:
    """(h, w, 3) float smooth colour noise in [0, 1]: random cells upsampled bicubically."""
    small = rng.random((max(2, cells * h // w), cells, 3)).astype(np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    kind = rng.integers(5)
    if kind == 0:  # multi-scale noise
        image = sum(_noise_field(rng, w, h, c) * a for c, a in ((3, 0.5), (12, 0.3), (48, 0.2)))
    elif kind == 1:  # gradient between two colours
        a, b = rng.random((2, 3))
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
        u = (np.cos(angle) * xx + np.sin(angle) * yy)
        u = (u - u.min()) / max(np.ptp(u), 1e-6)
        image = a * (1 - u[..., None]) + b * u[..., None]
    elif kind == 2:  # stripes
        a, b = rng.random((2, 3))
        angle, period = rng.uniform(0, np.pi), rng.uniform(6, 60)
        yy, xx = np.mgrid[0:h, 0:w]
        u = (np.cos(angle) * xx + np.sin(angle) * yy) / period
        image = np.where(((np.floor(u) % 2) == 0)[..., None], a, b)
    elif kind == 3:  # wall and a checkerboard floor in perspective
        horizon = rng.uniform(0.2, 0.8) * h
        wall, c1, c2 = rng.random((3, 3))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        depth = 1.0 / np.maximum(yy - horizon, 1e-3)
        tile = rng.uniform(20, 80)
        fx, fz = (xx - w / 2) * depth * tile / 10, depth * tile * 10
        checker = ((np.floor(fx) + np.floor(fz)) % 2 == 0)[..., None]
        image = np.where((yy > horizon)[..., None], np.where(checker, c1, c2), wall)
        image = image * (0.6 + 0.4 * _noise_field(rng, w, h, 4))
    else:  # clutter: many random shapes over noise
        image = _noise_field(rng, w, h, 6)
        image = (image * 255).astype(np.uint8)
        for _ in range(int(rng.integers(5, 25))):
            _random_shape(rng, image, (rng.uniform(0, w), rng.uniform(0, h)), rng.uniform(0.03, 0.3) * max(w, h))
        return image
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def floor_background(rng: np.random.Generator, camera: Camera, rotation: np.ndarray, translation: np.ndarray,
                     floor_y: float) -> np.ndarray:
    """(H, W, 3) uint8: a tiled or textured floor under the feet, seen by ``camera``, and a wall.

    The floor is the body frame's plane y = ``floor_y`` (SMPL's y is up) under the transform
    camera point = ``rotation`` @ body point + ``translation``; each pixel's ray is intersected with
    it, so the floor reaches the horizon at any camera height. Far tiles fade to their mean colour
    (no aliasing), and a drawn light falls off with distance."""
    w, h = camera.width, camera.height
    (fx, fy), (cx, cy) = camera.focal_length, camera.principal_point
    vv, uu = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    rays = np.stack([(uu - cx) / fx, (vv - cy) / fy, np.ones_like(uu)], -1) @ rotation  # body frame
    origin = -rotation.T @ translation
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (floor_y - origin[1]) / rays[..., 1]
    on_floor = np.isfinite(s) & (s > 0)
    s = np.where(on_floor, s, 0.0)
    x, z = origin[0] + s * rays[..., 0], origin[2] + s * rays[..., 2]
    tile = rng.uniform(0.25, 1.2)
    c1, c2 = rng.uniform(0.1, 0.9, (2, 3))
    pattern = rng.integers(3)
    if pattern == 0:  # checkerboard
        u = ((np.floor(x / tile) + np.floor(z / tile)) % 2)[..., None]
    elif pattern == 1:  # planks along one axis
        u = (np.floor((x if rng.random() < 0.5 else z) / tile) % 2)[..., None] * rng.uniform(0.2, 1.0)
    else:  # one colour
        u = np.zeros_like(x)[..., None]
    floor = c1 * (1 - u) + c2 * u
    distance = np.linalg.norm(np.stack([x - origin[0], z - origin[2]], -1), axis=-1)[..., None]
    fade = np.clip(distance * tile / max(fx, fy) * 40, 0, 1)  # ~40 px per tile: fully sharp
    floor = floor * (1 - fade) + (c1 + c2) / 2 * fade
    floor = floor * (0.55 + 0.45 * np.exp(-distance / rng.uniform(5, 40)))
    wall_top, wall_bottom = rng.uniform(0.2, 0.9, (2, 3))
    ramp = (vv / h)[..., None]
    wall = wall_top * (1 - ramp) + wall_bottom * ramp
    image = np.where(on_floor[..., None], floor, wall) * (0.8 + 0.2 * _noise_field(rng, w, h, 8))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def _random_shape(rng: np.random.Generator, image: np.ndarray, centre, size: float) -> np.ndarray:
    """Draw one filled ellipse, rectangle or polygon on ``image``; returns its (H, W) mask."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cx, cy = centre
    kind = rng.integers(3)
    if kind == 0:
        axes = (max(1, int(size * rng.uniform(0.2, 1))), max(1, int(size * rng.uniform(0.2, 1))))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    elif kind == 1:
        half = np.array([size * rng.uniform(0.1, 1), size * rng.uniform(0.1, 1)])
        angle = rng.uniform(0, np.pi)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * half @ rot.T + (cx, cy)
        cv2.fillConvexPoly(mask, np.round(corners).astype(np.int32), 255)
    else:
        n = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = size * rng.uniform(0.3, 1, n)
        pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], -1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
    colour = rng.uniform(0, 255, 3)
    covered = mask > 0
    if rng.random() < 0.5:  # textured: noise modulates the colour
        texture = _noise_field(rng, image.shape[1], image.shape[0], 16)
        image[covered] = np.clip(colour * (0.5 + texture[covered]), 0, 255).astype(np.uint8)
    else:
        image[covered] = colour.astype(np.uint8)
    return covered


def _degrade(rng: np.random.Generator, image: np.ndarray) -> tuple[np.ndarray, int]:
    """Blur (Gaussian or motion), sensor noise; returns the image and a JPEG quality."""
    r = rng.random()
    if r < 0.25:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.5))
    elif r < 0.4:
        length = int(rng.integers(3, 9))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1.0 / length
        kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5),
                                                               float(rng.uniform(0, 180)), 1.0), (length, length))
        image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
    if rng.random() < 0.4:
        noise = rng.normal(0, rng.uniform(2, 10), image.shape)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    return image, int(rng.integers(35, 96))


# ---------------------------------------------------------------------------------------------
# geometry: camera placement and visibility


def _view_rotation(elevation_deg: float) -> np.ndarray:
    """(3, 3) body frame → camera frame, for a camera ``elevation_deg`` above looking at the front."""
    pitch = axis_angle_to_matrix(torch.tensor([np.radians(elevation_deg), 0.0, 0.0], dtype=torch.float64)).double().numpy()
    return pitch @ BODY_TO_CAMERA


def surface_depth_at(points_uv: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                     camera: Camera) -> np.ndarray:
    """Depth of the nearest mesh surface along the ray through each pixel (the depth buffer there).

    Args:
        points_uv: (J, 2) pixels.
        vertices: (V, 3) metres, camera frame.
        faces: (F, 3).
        camera: the pinhole camera.

    Returns:
        (J,) metres, +inf where no triangle covers the pixel.
    """
    tri = camera.project(vertices)[faces]  # (F, 3, 2)
    z = vertices[faces][..., 2]  # (F, 3)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1 = b - a, c - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]  # (F,)
    ok = np.abs(den) > 1e-12
    d = points_uv[:, None, :] - a[None]  # (J, F, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        l1 = (d[..., 0] * v1[:, 1] - v1[:, 0] * d[..., 1]) / den
        l2 = (v0[:, 0] * d[..., 1] - d[..., 0] * v0[:, 1]) / den
    l0 = 1 - l1 - l2
    inside = ok & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
    # perspective-correct depth: 1/z interpolates linearly in the image
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = 1.0 / (l0 / z[:, 0] + l1 / z[:, 1] + l2 / z[:, 2])
    depth = np.where(inside & (depth > 0), depth, np.inf)
    return depth.min(axis=1)


# ---------------------------------------------------------------------------------------------
# one sample


def _draw_pose(rng: np.random.Generator, prior, config: WorldConfig) -> tuple[np.ndarray, np.ndarray, str]:
    from body_models.motion import clamp_to_limits, sample_poses

    if rng.random() < config.prior_fraction:
        k = rng.choice(len(prior.weights), p=prior.weights / prior.weights.sum())
        body_pose = rng.multivariate_normal(prior.means[k], prior.covars[k]).astype(np.float32)
        body_pose, source = np.asarray(clamp_to_limits(body_pose[None]))[0], "prior"
    else:
        weights = dict(config.motion_weights) or None
        body_pose, source = sample_poses(1, seed=int(rng.integers(2**31)), kind_weights=weights)[0], "motion"
    heading = rng.uniform(-np.pi, np.pi)
    lean = rng.normal(0, 0.12, 2)
    orient = (axis_angle_to_matrix(torch.tensor([0.0, heading, 0.0], dtype=torch.float64)) @
              axis_angle_to_matrix(torch.tensor([lean[0], 0.0, lean[1]], dtype=torch.float64)))
    from body_models.rotations import matrix_to_axis_angle

    return matrix_to_axis_angle(orient).numpy().astype(np.float32), body_pose.astype(np.float32), source


def _framing(rng: np.random.Generator, verts: np.ndarray, camera: Camera, focal: float,
             config: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """Where the body stands in the picture: the view's rotation (a drawn camera elevation) and the
    translation that gives it a drawn height in the image, at a drawn spot (with
    ``config.truncation_prob`` reaching over a border by up to 40 %)."""
    w, h = config.image_size
    rotation = _view_rotation(rng.uniform(*config.elevation_range))
    rotated = verts @ rotation.T
    extent = np.ptp(rotated[:, :2], axis=0)  # metres, (x, y) extent seen by the camera
    centre = (rotated.min(0) + rotated.max(0)) / 2
    height_px = rng.uniform(*config.height_range) * h
    depth = focal * extent[1] / height_px
    size_px = extent * focal / depth
    if rng.random() < config.truncation_prob:  # the box reaches over a border by up to 40 %
        u = rng.uniform(-0.4, 0.4, 2)
        u = np.where(np.abs(u) < 0.15, np.sign(u) * 0.15 + u, u)
        target = (np.array([w, h]) / 2 + np.sign(u) * (np.array([w, h]) / 2 - size_px / 2 + np.abs(u) * size_px))
    else:
        slack = np.maximum(np.array([w, h]) - size_px, 0) / 2
        target = np.array([w, h]) / 2 + rng.uniform(-1, 1, 2) * slack
    ray = (target - np.asarray(camera.principal_point)) / focal
    translation = np.array([ray[0] * depth, ray[1] * depth, depth]) - np.array([centre[0], centre[1], 0.0]) \
        - np.array([0.0, 0.0, centre[2]])
    return rotation, translation


def _picture(rng: np.random.Generator, body: _Body, renderer: MeshRenderer, verts_c: np.ndarray,
             w: int, h: int, floor=None) -> tuple[np.ndarray, np.ndarray]:
    """The body rendered in a drawn look and light over a drawn background, or over ``floor``
    (H, W, 3) uint8 when given: (image (H, W, 3) uint8, the body's mask (H, W) bool)."""
    light_dir = np.array([rng.uniform(-1, 1), rng.uniform(-1, 0.3), -1.0])
    light_colour = 1 - rng.uniform(0, 0.3, 3)
    renderer.set_lighting(light_dir, float(rng.uniform(0.2, 0.6)))
    groups = _look(rng, body)
    rgb, alpha = renderer.render([(verts_c, f) for f, _ in groups],
                                 colors=[tuple(np.asarray(c) * light_colour) for _, c in groups])
    image = _background(rng, w, h)  # drawn even under a floor: the world's other draws stay the same
    if floor is not None:
        image = floor
    image[alpha] = rgb[alpha]
    return image, alpha


def _occlude(rng: np.random.Generator, image: np.ndarray, uv: np.ndarray, box: tuple[float, ...],
             config: WorldConfig) -> np.ndarray:
    """With ``config.occluder_prob``, paint one or two shapes over the person's ``box`` (x1, y1,
    x2, y2) in ``image``; returns (17,) bool, the keypoints ``uv`` (17, 2) they cover."""
    w, h = config.image_size
    x1, y1, x2, y2 = box
    occluded = np.zeros(17, bool)
    if rng.random() < config.occluder_prob:
        for _ in range(int(rng.integers(1, 3))):
            spot = (rng.uniform(x1, max(x2, x1 + 1)), rng.uniform(y1, max(y2, y1 + 1)))
            mask = _random_shape(rng, image, spot, rng.uniform(0.1, 0.35) * max(y2 - y1, 1))
            px = np.clip(np.round(uv).astype(int), 0, [w - 1, h - 1])
            occluded |= mask[px[:, 1], px[:, 0]]
    return occluded


def render_sample(body: _Body, renderer: MeshRenderer, prior, config: WorldConfig, seed: int,
                  index: int) -> tuple[np.ndarray, int, dict]:
    """Image ``index`` of the world with seed ``seed``.

    Returns:
        (image (H, W, 3) uint8 RGB, JPEG quality, the person's annotation without ids).
    """
    rng = np.random.default_rng([seed, index])
    w, h = config.image_size
    global_orient, body_pose, source = _draw_pose(rng, prior, config)
    betas = np.clip(rng.normal(0, 1.0, body.smpl.num_betas), -2.5, 2.5).astype(np.float32)
    verts, coco, smpl24 = body.pose(global_orient, body_pose, betas)

    focal = rng.uniform(*config.focal_range)
    camera = Camera.simple(w, h, focal)
    renderer.set_camera(camera)
    rotation, translation = _framing(rng, verts, camera, focal, config)
    to_camera = lambda p: p @ rotation.T + translation  # noqa: E731
    verts_c, coco_c, smpl_c = to_camera(verts), to_camera(coco), to_camera(smpl24)
    floor_rng = np.random.default_rng([seed, index, 1])  # its own stream: floor_prob changes no other draw
    floor = (floor_background(floor_rng, camera, rotation, translation, float(verts[:, 1].min()))
             if config.floor_prob > 0 and floor_rng.random() < config.floor_prob else None)
    image, alpha = _picture(rng, body, renderer, verts_c, w, h, floor)

    uv = camera.project(coco_c)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    seen = surface_depth_at(uv, verts_c, body.faces, camera) >= coco_c[:, 2] - VISIBLE_DEPTH_TOLERANCE
    silhouette = camera.project(verts_c)
    x1, y1 = np.clip(silhouette.min(0), 0, [w, h])
    x2, y2 = np.clip(silhouette.max(0), 0, [w, h])
    occluded = _occlude(rng, image, uv, (x1, y1, x2, y2), config)
    image, quality = _degrade(rng, image)

    visibility = np.where(inside, np.where(seen & ~occluded, 2, 1), 0)
    keypoints = np.concatenate([np.where(inside[:, None], uv, 0.0), visibility[:, None]], 1)
    root = body.smpl.rest_root(torch.as_tensor(betas[None]))
    orient_c, transl_c = rigid_transform_params(torch.as_tensor(global_orient[None]), torch.zeros(1, 3), root,
                                                torch.as_tensor(rotation, dtype=torch.float32),
                                                torch.as_tensor(translation, dtype=torch.float32))
    annotation = {
        "category_id": 1, "iscrowd": 0,
        "keypoints": [round(float(v), 2) for v in keypoints.reshape(-1)],
        "num_keypoints": int((visibility > 0).sum()),
        "bbox": [round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)],
        "area": float(alpha.sum()),
        "keypoints_projected": np.round(uv, 3).tolist(),
        "joints3d_coco": np.round(coco_c, 5).tolist(),
        "joints3d_smpl": np.round(smpl_c, 5).tolist(),
        "smpl": {"global_orient": orient_c[0].tolist(), "body_pose": body_pose.tolist(),
                 "betas": betas.tolist(), "transl": transl_c[0].tolist()},
        "camera": {"focal_length": [focal, focal], "principal_point": list(camera.principal_point)},
        "pose_source": source,
    }
    return image, quality, annotation


def _read_record(path: Path, seed: int, settings: dict) -> dict | None:
    """The stored annotation of an image made by an earlier run with the same seed and world
    settings, else None."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("seed") != seed or record.get("config") != settings:
        return None
    return record["annotation"]


def _coco_skeleton() -> list[list[int]]:
    return [[a + 1, b + 1] for a, b in js.COCO_17.edges]


def make_synthetic_images(out_dir: str | os.PathLike, num: int, seed: int = 0,
                          config: WorldConfig = WorldConfig(), backend: str = "auto",
                          progress: Progress = no_progress) -> dict[str, Path]:
    """Render the world and write it as a COCO keypoint dataset (module docstring).

    Args:
        out_dir: dataset root.
        num: number of images (train and val together), at least 1.
        seed: the world's seed.
        config: the ranges drawn from.
        backend: renderer backend (``hmr.io.render``).
        progress: a ``body_models.progress.Progress`` reporter, called as ``("images", done, num)``.

    Returns:
        {split: annotation file} for the splits written.
    """
    if int(num) != num or num < 1:
        raise InputError(f"--num must be a positive integer, got {num!r}")
    from body_models.mannequin import gmm_prior_path
    from body_models.priors import load_gmm

    out_dir = Path(out_dir)
    body = _Body(load_smpl("mannequin"))
    prior = load_gmm(gmm_prior_path())
    w, h = config.image_size
    renderer = MeshRenderer(Camera.simple(w, h, 500.0), backend)
    datasets = {s: {"images": [], "annotations": []} for s in SPLITS}
    # The settings as a record stores them (JSON), without the later fields at their defaults, so
    # that worlds written before those fields existed still resume.
    later = {"motion_weights": (), "floor_prob": 0.0}
    settings = json.loads(json.dumps({k: v for k, v in config.__dict__.items() if later.get(k, None) != v}))
    counter = StageCounter(as_progress(progress), "images", int(num))
    for index in range(int(num)):
        split = _split_of(index, int(num), config.val_fraction)
        name = f"{index:06d}.jpg"
        path = out_dir / "images" / split / name
        record = out_dir / "records" / f"{index:06d}.json"  # one image's annotation, for resuming
        annotation = _read_record(record, seed, settings) if path.is_file() else None
        if annotation is None:
            image, quality, annotation = render_sample(body, renderer, prior, config, seed, index)
            ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            write_bytes(path, data.tobytes())
            write_text(record, json.dumps({"seed": int(seed), "config": settings, "annotation": annotation}))
        datasets[split]["images"].append({"id": index + 1, "file_name": f"{split}/{name}", "width": w, "height": h})
        datasets[split]["annotations"].append({"id": index + 1, "image_id": index + 1, **annotation})
        counter.advance()
    written = {}
    for split, data in datasets.items():
        if not data["images"]:
            continue
        coco = {
            "info": {"description": "hmr synthetic image world (mannequin)", "version": SCHEMA_VERSION,
                     "seed": int(seed), "num": int(num), "split": split,
                     "config": settings},
            "images": data["images"], "annotations": data["annotations"],
            "categories": [{"id": 1, "name": "person", "supercategory": "person",
                            "keypoints": list(js.COCO_17.names), "skeleton": _coco_skeleton()}],
        }
        written[split] = write_text(annotation_path(out_dir, split), json.dumps(coco, separators=(",", ":")))
    return written
