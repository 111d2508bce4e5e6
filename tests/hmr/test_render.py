import numpy as np
import pytest
import torch

from body_models.errors import HMRError
from hmr.io.render import Camera, MeshRenderer, available_backends

BACKENDS = [b for b in ("moderngl", "painter") if b in available_backends()]


@pytest.fixture(scope="module")
def body(mannequin_smpl):
    """The mannequin upright in front of the camera (camera frame: y down, z forward)."""
    out = mannequin_smpl(global_orient=torch.tensor([[np.pi, 0.0, 0.0]]), transl=torch.tensor([[0.0, 0.2, 4.0]]))
    return out.vertices[0].numpy().astype(np.float64), mannequin_smpl.faces


def test_the_cpu_fallback_is_available():
    assert "painter" in available_backends()


@pytest.mark.parametrize("backend", BACKENDS)
def test_silhouette_lands_where_the_camera_projects(backend, body):
    camera = Camera.simple(320, 240, 400.0)
    rgb, alpha = MeshRenderer(camera, backend).render([body])
    assert rgb.shape == (240, 320, 3) and rgb.dtype == np.uint8 and alpha.shape == (240, 320)
    uv = camera.project(body[0])
    ys, xs = np.nonzero(alpha)
    np.testing.assert_allclose([xs.min(), xs.max(), ys.min(), ys.max()],
                               [uv[:, 0].min(), uv[:, 0].max(), uv[:, 1].min(), uv[:, 1].max()], atol=2.0)
    head = body[0][:, 1].argmin()  # the top of the head is the smallest y (y down)
    assert uv[head, 1] < 120, "the body is upright: head in the upper half of the image"
    assert (rgb[alpha] > 0).all(axis=1).mean() > 0.99 and not rgb[~alpha].any()


def test_backends_agree(body):
    if len(BACKENDS) < 2:
        pytest.skip("only one renderer backend on this machine")
    camera = Camera.simple(320, 240, 400.0)
    a = MeshRenderer(camera, "moderngl").render([body])[1]
    b = MeshRenderer(camera, "painter").render([body])[1]
    assert (a & b).sum() / (a | b).sum() > 0.9


@pytest.mark.parametrize("backend", BACKENDS)
def test_nearer_mesh_wins_and_overlay_stays_in_the_box(backend, body):
    camera = Camera.simple(320, 240, 400.0)
    near = (body[0] + [0.0, 0.0, -1.0], body[1])
    renderer = MeshRenderer(camera, backend)
    rgb, alpha = renderer.render([body, near], colors=[(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])
    center = tuple(np.round(camera.project(near[0].mean(0))[::-1]).astype(int))
    assert alpha[center] and rgb[center][2] > rgb[center][0]
    frame = np.full((240, 320, 3), 40, np.uint8)
    out = renderer.overlay(frame, [body])
    changed = (out != frame).any(axis=2)
    assert changed.any() and not changed[~renderer.render([body])[1]].any()


def test_no_mesh_and_bad_backend():
    camera = Camera.simple(64, 48, 50.0)
    rgb, alpha = MeshRenderer(camera, "painter").render([])
    assert not alpha.any() and not rgb.any()
    with pytest.raises(HMRError, match="unknown renderer"):
        MeshRenderer(camera, "raytracer")
