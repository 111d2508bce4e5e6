"""Speed of the VideoPose3D lifter: inference frames/s and training steps/s, fp32 against bf16.

    python benchmarks/bench_lifter.py                       # 243 frames, 1024 channels, CPU
    python benchmarks/bench_lifter.py --frames 2000 --device cuda

Random weights (speed does not depend on them). Inference lifts one long sequence, edge-padded by
121 frames on each side, with ``TemporalModel`` (dilated convolutions, the whole sequence at
once) and with ``TemporalModelOptimized1f`` (one strided window per output frame, which repeats
work and is meant for training; it runs on fewer frames and is reported per frame). Training is
the official step: ``TemporalModelOptimized1f`` on a batch of one-frame chunks, MPJPE, Adam
with amsgrad. bf16 means ``torch.autocast`` with bfloat16 around the forward pass.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import subprocess
import time
from pathlib import Path

import torch

from lifting import TemporalModel, TemporalModelOptimized1f

ARCHITECTURE = dict(num_joints_in=17, in_features=2, num_joints_out=17, filter_widths=(3, 3, 3, 3, 3),
                    channels=1024, dropout=0.25)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _autocast(device: torch.device, bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_time(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def bench_inference(model_class, frames: int, bf16: bool, device: torch.device, repeats: int) -> float:
    """Seconds to lift ``frames`` frames (one sequence, batch 1)."""
    torch.manual_seed(0)
    model = model_class(**ARCHITECTURE).to(device).eval()
    field = model.receptive_field()
    keypoints = torch.rand(1, frames + field - 1, 17, 2, device=device) * 2 - 1

    def run():
        with torch.no_grad(), _autocast(device, bf16):
            out = model(keypoints)
        assert out.shape[1] == frames

    return _best_time(run, repeats, device)


def bench_training(batch: int, bf16: bool, device: torch.device, steps: int) -> float:
    """Seconds per training step of ``batch`` one-frame chunks."""
    torch.manual_seed(0)
    model = TemporalModelOptimized1f(**ARCHITECTURE).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, amsgrad=True)
    field = model.receptive_field()
    keypoints = torch.rand(batch, field, 17, 2, device=device) * 2 - 1
    target = torch.rand(batch, 1, 17, 3, device=device)

    def run():
        for _ in range(steps):
            optimizer.zero_grad()
            with _autocast(device, bf16):
                predicted = model(keypoints)
            loss = torch.linalg.vector_norm(predicted.float() - target, dim=-1).mean()
            loss.backward()
            optimizer.step()

    return _best_time(run, 1, device) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000, help="sequence length for TemporalModel")
    parser.add_argument("--frames-1f", type=int, default=500, help="sequence length for Optimized1f inference")
    parser.add_argument("--train-batch", type=int, default=64, help="chunks per training step")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats per inference row (best kept)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"lifter benchmark, commit {_commit()}, torch {torch.__version__}, device {name}")
    print("architecture: filter widths 3,3,3,3,3 (receptive field 243 frames), 1024 channels, 17 -> 17 joints")
    print()

    rows = []
    for label, cls, frames in (("TemporalModel", TemporalModel, args.frames),
                               ("Optimized1f", TemporalModelOptimized1f, args.frames_1f)):
        for bf16 in (False, True):
            seconds = bench_inference(cls, frames, bf16, device, args.repeats)
            rows.append((label, "bf16" if bf16 else "fp32", frames, seconds, frames / seconds))
    base = rows[0][4]
    print(f"{'inference':<16} {'dtype':<5} {'frames':>7} {'time (s)':>9} {'frames/s':>10} {'vs fp32 TemporalModel':>22}")
    for label, dtype, frames, seconds, rate in rows:
        print(f"{label:<16} {dtype:<5} {frames:>7d} {seconds:>9.2f} {rate:>10.0f} {rate / base:>21.2f}x")
    print()

    train_rows = []
    for bf16 in (False, True):
        seconds = bench_training(args.train_batch, bf16, device, args.train_steps)
        train_rows.append(("bf16" if bf16 else "fp32", seconds))
    base = train_rows[0][1]
    print(f"{'training (Optimized1f)':<24} {'batch':>6} {'s/step':>8} {'steps/s':>8} {'frames/s':>9} {'vs fp32':>8}")
    for dtype, seconds in train_rows:
        print(f"{dtype:<24} {args.train_batch:>6d} {seconds:>8.3f} {1 / seconds:>8.3f} "
              f"{args.train_batch / seconds:>9.1f} {base / seconds:>7.2f}x")


if __name__ == "__main__":
    main()
