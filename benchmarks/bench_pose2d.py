"""HRNet-W32 256x192 inference speed on CPU: fp32 eager, channels_last, BatchNorm folded, bf16.

    python benchmarks/bench_pose2d.py [--batch 8] [--repeats 3] [--threads 0]

Random weights (with non-trivial BatchNorm statistics) and random crops; every variant is timed
in the same run on the same inputs. Prints crops per second, the ratio to fp32 eager, and the
keypoint difference each variant costs after the official decoding (max and median pixels in the
256x192 crop, over all joints), compared with fp32 eager.
"""

import argparse
import copy
import subprocess
import time

import numpy as np
import torch

from hmr.pose2d import HRNet, HRNetConfig
from hmr.pose2d.topdown import decode_heatmaps, fold_batchnorm


def _random_hrnet() -> HRNet:
    model = HRNet(HRNetConfig())  # W32, 256x192
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    return model.eval()


def _time(run, images, repeats: int) -> tuple[float, torch.Tensor]:
    with torch.no_grad():
        out = run(images)  # warm-up (oneDNN primitive creation)
        start = time.perf_counter()
        for _ in range(repeats):
            out = run(images)
    return (time.perf_counter() - start) / repeats, out.float()


def main(batch: int = 8, repeats: int = 3, threads: int = 0) -> None:
    if threads:
        torch.set_num_threads(threads)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    model = _random_hrnet()
    folded = fold_batchnorm(model)
    images = torch.randn(batch, 3, 256, 192, generator=torch.Generator().manual_seed(1))
    last = images.contiguous(memory_format=torch.channels_last)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    folded_cl = fold_batchnorm(model).to(memory_format=torch.channels_last)

    def bf16(net, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return net(x)

    variants = [
        ("fp32 eager", lambda x: model(x), images),
        ("fp32 channels_last", lambda x: model_cl(x), last),
        ("fp32 BN folded", lambda x: folded(x), images),
        ("fp32 BN folded + channels_last", lambda x: folded_cl(x), last),
        ("bf16 autocast", lambda x: bf16(model, x), images),
        ("bf16 autocast + BN folded + channels_last", lambda x: bf16(folded_cl, x), last),
    ]
    center = np.tile([96.0, 128.0], (batch, 1))  # crop pixels = image pixels
    scale = np.tile([192 / 200, 256 / 200], (batch, 1))
    rows, reference = [], None
    for name, run, x in variants:
        seconds, heatmaps = _time(run, x, repeats)
        keypoints = decode_heatmaps(heatmaps, center, scale)[..., :2]
        if reference is None:
            reference = (seconds, keypoints, heatmaps)
        dist = np.linalg.norm(keypoints - reference[1], axis=-1)
        rel = ((heatmaps - reference[2]).abs().max() / reference[2].abs().max()).item()
        rows.append((name, batch / seconds, reference[0] / seconds, dist.max(), np.median(dist), (dist > 1).mean(), rel))
    print(f"HRNet-W32 256x192 forward, batch {batch}, {torch.get_num_threads()} threads, CPU, "
          f"torch {torch.__version__}, commit {commit}")
    print(f"{'variant':<42} {'crops/s':>8} {'vs eager':>9} {'kp max px':>10} {'kp median px':>13} "
          f"{'moved >1px':>11} {'hm max rel':>11}")
    for name, rate, ratio, dmax, dmed, moved, rel in rows:
        print(f"{name:<42} {rate:>8.2f} {ratio:>8.2f}x {dmax:>10.3f} {dmed:>13.4f} {moved:>10.1%} {rel:>11.1e}")
    print("random weights give flat, noise-like heatmaps whose argmax jumps at the smallest change, so the "
          "keypoint columns are an upper bound; 'hm max rel' is the heatmap error relative to its largest value")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    main(**vars(parser.parse_args()))
