"""Speed of the HMR regressor: crops/s for fp32 eager, channels_last and bf16 autocast, and training
iterations/s (regressor + SMPL + discriminator, both optimiser steps) on a small batch.

    python benchmarks/bench_regressor.py
    python benchmarks/bench_regressor.py --device cuda --batch 16 --train-batch 8 --repeats 20

Random weights (speed does not depend on them); synthetic training data from the mannequin is
written to a temporary folder. Ratios are against fp32 eager measured in the same run.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from hmr.regressor import HMR, HMRConfig
from hmr.regressor.train import RegressorTrainConfig, RegressorTrainer, build_batch_source


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device, warmup: int, repeats: int) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def bench_inference(device: torch.device, batch: int, size: int, warmup: int, repeats: int) -> list[tuple[str, float]]:
    """(variant, crops/s) for the eval-mode regressor."""
    model = HMR(HMRConfig(image_size=size)).eval().to(device)
    images = torch.randn(batch, 3, size, size, device=device)
    rows = []
    for name, channels_last, bf16 in [("fp32 eager", False, False), ("fp32 channels_last", True, False),
                                      ("bf16 autocast", False, True), ("bf16 autocast + channels_last", True, True)]:
        net = model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        x = images.contiguous(memory_format=torch.channels_last) if channels_last else images

        def run():
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                net(x)

        rows.append((name, batch / _time(run, device, warmup, repeats)))
    return rows


def bench_training(device: torch.device, batch: int, size: int, warmup: int, repeats: int) -> list[tuple[str, float]]:
    """(variant, iterations/s) of full training steps, data loading excluded."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        from hmr.regressor.data import write_synthetic_dataset

        files = write_synthetic_dataset(tmp, num_samples=32, image_size=2 * size, num_mocap=256,
                                        focal_length=4.0 * size, image_format="npy")
        for name, amp in [("fp32", "none"), ("bf16 autocast", "bf16")]:
            config = RegressorTrainConfig(model={"image_size": size}, batch_size=batch, amp=amp, steps=10**6,
                                          datasets=({"npz": str(files.npz), "images": str(files.image_root)},),
                                          mocap=str(files.mocap))
            trainer = RegressorTrainer(config, device, ddp=False)
            source = build_batch_source(config, Path(tmp), rank=0, is_main=True)
            batches = [source[k] for k in range(1, 4)]
            counter = iter(range(10**9))
            seconds = _time(lambda: trainer.step(batches[next(counter) % 3]), device, warmup, repeats)
            rows.append((name, 1.0 / seconds))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16, help="crops per inference batch (default 16)")
    parser.add_argument("--size", type=int, default=224, help="crop side for inference (default 224)")
    parser.add_argument("--train-batch", type=int, default=4, help="crops per training step (default 4)")
    parser.add_argument("--train-size", type=int, default=224, help="crop side for training (default 224)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)

    print(f"commit {_commit()}  torch {torch.__version__}  device {device}  threads {torch.get_num_threads()}")
    print(f"\nregressor inference, batch {args.batch}, {args.size}x{args.size}, median of {args.repeats}")
    rows = bench_inference(device, args.batch, args.size, args.warmup, args.repeats)
    print(f"{'variant':<32}{'crops/s':>10}{'ms/batch':>10}{'vs fp32 eager':>15}")
    for name, rate in rows:
        print(f"{name:<32}{rate:>10.1f}{1000 * args.batch / rate:>10.1f}{rate / rows[0][1]:>14.2f}x")

    print(f"\ntraining step (regressor + SMPL + discriminator, both Adam steps), batch {args.train_batch}, "
          f"{args.train_size}x{args.train_size}, median of {args.repeats}")
    rows = bench_training(device, args.train_batch, args.train_size, args.warmup, args.repeats)
    print(f"{'variant':<32}{'iter/s':>10}{'ms/iter':>10}{'vs fp32':>15}")
    for name, rate in rows:
        print(f"{name:<32}{rate:>10.2f}{1000 / rate:>10.1f}{rate / rows[0][1]:>14.2f}x")


if __name__ == "__main__":
    main()
