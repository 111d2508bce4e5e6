"""End-to-end pipeline speed on a generated clip: time per stage and frames/s, fp32 against bf16.

    python benchmarks/bench_pipeline.py [--frames 16] [--device cpu]

Random-weight models in the official layouts (HRNet W32 256x192, VideoPose3D 243 frames with
1024 channels, SPIN's HMR), SMPLify with SPIN's 100 + 100 iterations, meshes and overlay, on a
640x480 synthetic clip of one person. Weights do not change the speed; they are random because
the official files cannot be shipped.
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from hmr.pipeline import PipelineOptions, run_pipeline
from hmr.synthetic.clip import make_synthetic_clip


def _weights(folder: Path) -> dict[str, Path]:
    from hmr.evaluation.synthetic import write_spin_checkpoint
    from hmr.pose2d import HRNet, HRNetConfig
    from lifting import TemporalModel

    torch.manual_seed(0)
    hrnet = HRNet(HRNetConfig(width=32, num_joints=17)).state_dict()
    hrnet["final_layer.bias"].fill_(1.0)  # positive heatmaps: every joint found
    torch.save(hrnet, folder / "pose_hrnet_w32_256x192.pth")
    lifter = TemporalModel(17, 2, 17, (3, 3, 3, 3, 3), channels=1024)
    torch.save({"epoch": 0, "model_pos": lifter.state_dict()}, folder / "pretrained_h36m_detectron_coco.bin")
    write_spin_checkpoint(folder / "model_checkpoint.pt")
    return {"hrnet_weights": folder / "pose_hrnet_w32_256x192.pth",
            "lifter_weights": folder / "pretrained_h36m_detectron_coco.bin",
            "hmr_weights": folder / "model_checkpoint.pt"}


def main(frames: int = 16, device: str = "cpu") -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_synthetic_clip(tmp / "clip", num_frames=frames, focal_length=736.0, elevation_deg=15.0)
        weights = _weights(tmp)
        boxes = tmp / "boxes.json"
        import json

        import numpy as np

        gt = np.load(clip.ground_truth)
        boxes.write_text(json.dumps({str(t): [gt["boxes"][t, 0].tolist()] for t in range(frames)}))
        rows = []
        for precision in ("fp32", "bf16"):
            options = PipelineOptions(**weights, boxes=boxes, flip=False, device=device, precision=precision)
            start = time.perf_counter()
            result = run_pipeline(clip.video, tmp / f"out_{precision}", options)
            rows.append((precision, result.seconds, time.perf_counter() - start))
    stages = list(rows[0][1])
    print(f"pipeline on a {frames}-frame 640x480 clip, one person, device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, commit {commit}")
    print(f"{'precision':<10}" + "".join(f"{s + ' s':>12}" for s in stages) + f"{'total s':>10}{'frames/s':>10}{'vs fp32':>9}")
    base = rows[0][2]
    for precision, seconds, total in rows:
        print(f"{precision:<10}" + "".join(f"{seconds[s]:>12.2f}" for s in stages)
              + f"{total:>10.1f}{frames / total:>10.2f}{base / total:>8.2f}x")
    print("bf16 autocasts HRNet and the HMR regressor; the lifter and SMPLify run in fp32.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    main(**vars(parser.parse_args()))
