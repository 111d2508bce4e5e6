"""Mesh overlay rendering speed per backend, 1280x720, the mannequin at 4 m.

    python benchmarks/bench_render.py [--frames 20]

Prints milliseconds per frame for render and render+overlay, and each backend's ratio to the
painter fallback measured in the same run.
"""

import argparse
import subprocess
import time

import numpy as np
import torch

from body_models.smpl import load_smpl
from hmr.io.render import Camera, MeshRenderer, available_backends


def main(frames: int = 20) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    smpl = load_smpl("mannequin")
    with torch.no_grad():
        body = smpl(global_orient=torch.tensor([[np.pi, 0.0, 0.0]]), body_pose=0.2 * torch.randn(1, 69),
                    transl=torch.tensor([[0.0, 0.2, 4.0]]))
    mesh = (body.vertices[0].numpy().astype(np.float64), smpl.faces)
    camera = Camera.simple(1280, 720, 1000.0)
    frame = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    rows = []
    for backend in available_backends():
        renderer = MeshRenderer(camera, backend)
        renderer.render([mesh])  # warm-up (context, shader compile)
        start = time.perf_counter()
        for _ in range(frames):
            renderer.render([mesh])
        render_ms = (time.perf_counter() - start) / frames * 1000
        start = time.perf_counter()
        for _ in range(frames):
            renderer.overlay(frame, [mesh])
        overlay_ms = (time.perf_counter() - start) / frames * 1000
        rows.append((backend, render_ms, overlay_ms))
    base = {b: o for b, _, o in rows}.get("painter")
    print(f"mesh overlay rendering, 1280x720, 6890 vertices, CPU, torch {torch.__version__}, commit {commit}")
    print(f"{'backend':<10} {'render ms/frame':>16} {'overlay ms/frame':>17} {'overlay fps':>12} {'vs painter':>11}")
    for backend, render_ms, overlay_ms in rows:
        ratio = f"{base / overlay_ms:.2f}x" if base else "-"
        print(f"{backend:<10} {render_ms:>16.1f} {overlay_ms:>17.1f} {1000 / overlay_ms:>12.1f} {ratio:>11}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    main(**vars(parser.parse_args()))
