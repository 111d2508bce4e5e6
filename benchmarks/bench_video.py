"""Video decode, seek and encode speed at 1280x720: hmr.io.video (PyAV) against OpenCV.

    python benchmarks/bench_video.py [--frames 150] [--workdir /tmp/bench_video]

Generates a 720p H.264 clip with moving texture (written by ``hmr.io.video.write_video``), then
times, in one run: streaming decode to RGB numpy frames with ``hmr.io.video.iter_frames``, plain
PyAV and OpenCV; seeking to the middle frame; and encoding with the x264 presets. Prints frames
per second, milliseconds, and ratios to ``hmr.io.video``. Last, decode overlapped with a stage's
work: each frame's person crop through a small HRNet (the demo's W16 at 128x160, crop and flip),
with the frames read in the calling thread against ``hmr.io.video.prefetch`` (a background
decode thread), in wall-clock seconds.
"""

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from hmr.io.video import PREFETCH_FRAMES, iter_frames, prefetch, read_frame, write_video


def _clip_frames(n: int, width: int = 1280, height: int = 720):
    rng = np.random.default_rng(0)
    texture = cv2.resize(rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8), (width * 2, height),
                         interpolation=cv2.INTER_CUBIC)
    for i in range(n):
        shift = (i * 7) % width
        yield np.ascontiguousarray(texture[:, shift:shift + width])


def _decode_hmr(path):
    return sum(1 for _ in iter_frames(path))


def _decode_pyav(path):
    with av.open(str(path)) as container:
        return sum(1 for frame in container.decode(video=0) if frame.to_ndarray(format="rgb24") is not None)


def _decode_cv2(path):
    cap = cv2.VideoCapture(str(path))
    count = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        count += 1
    cap.release()
    return count


def _seek_cv2(path, index):
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = cap.read()
    cap.release()
    return image


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def _stage_with_decode(path, depth: int) -> float:
    """Wall seconds to decode every frame and run one crop (and its flip) through a small HRNet."""
    import torch

    from hmr.core.imagenet import normalize_images
    from hmr.pose2d import HRNet, HRNetConfig
    from hmr.pose2d.topdown import crop_people, predict_heatmaps

    torch.manual_seed(0)
    model = HRNet(HRNetConfig(width=16, image_size=(128, 160), num_modules=(1, 1, 1), num_blocks=(2, 2, 2))).eval()
    box = np.array([[500.0, 100.0, 780.0, 650.0]])
    start = time.perf_counter()
    with torch.no_grad():
        for frame in prefetch(iter_frames(path), depth=depth):
            crops = crop_people(frame.image, box, image_size=model.config.image_size)
            predict_heatmaps(model, normalize_images(crops.images), flip=True)
    return time.perf_counter() - start


def main(frames: int = 150, workdir: str | None = None) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    folder = Path(workdir or tempfile.mkdtemp(prefix="bench_video_"))
    folder.mkdir(parents=True, exist_ok=True)
    source = list(_clip_frames(frames))

    encode = []
    for preset in ("veryfast", "medium", "ultrafast"):
        path = folder / f"clip_{preset}.mp4"
        seconds, _ = _timed(write_video, path, source, 30.0, 23, preset)
        encode.append((preset, frames / seconds, path.stat().st_size / 1e6))
    clip = folder / "clip_veryfast.mp4"

    decode = []
    for name, fn in (("hmr.io.video.iter_frames (PyAV)", _decode_hmr), ("PyAV container.decode", _decode_pyav),
                     ("OpenCV VideoCapture.read + cvtColor", _decode_cv2)):
        fn(clip)  # warm-up: file cache, library initialisation
        seconds, count = _timed(fn, clip)
        decode.append((name, count / seconds, count))

    middle = frames // 2
    seek = []
    seconds, frame = _timed(read_frame, clip, middle)
    seek.append(("hmr.io.video.read_frame (PyAV keyframe seek)", seconds, frame.index == middle))
    reference = frame.image
    seconds, image = _timed(_seek_cv2, clip, middle)
    same = image is not None and np.abs(cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(int) - reference).mean() < 1
    seek.append(("OpenCV CAP_PROP_POS_FRAMES", seconds, same))

    print(f"video I/O, 1280x720 H.264 clip of {frames} frames (CRF 23), commit {commit}, av {av.__version__}, "
          f"opencv {cv2.__version__}")
    base = decode[0][1]
    print(f"\n{'decode to RGB numpy':<38} {'fps':>8} {'frames':>7} {'vs hmr.io.video':>13}")
    for name, fps, count in decode:
        print(f"{name:<38} {fps:>8.1f} {count:>7d} {fps / base:>12.2f}x")
    print(f"\n{'seek to frame ' + str(middle):<44} {'ms':>8} {'exact frame':>12}")
    for name, seconds, exact in seek:
        print(f"{name:<44} {seconds * 1000:>8.1f} {str(exact):>12}")
    overlap = [("iter_frames in the stage's thread", _stage_with_decode(clip, 0)),
               (f"prefetch (decode thread, {PREFETCH_FRAMES} ahead)", _stage_with_decode(clip, PREFETCH_FRAMES))]
    print(f"\n{'decode + HRNet W16 crop and flip':<38} {'s':>8} {'fps':>7} {'vs in-thread':>13}")
    for name, seconds in overlap:
        print(f"{name:<38} {seconds:>8.2f} {frames / seconds:>7.1f} {overlap[0][1] / seconds:>12.2f}x")
    base = encode[0][1]
    print(f"\n{'encode libx264 yuv420p CRF 23 (PyAV)':<38} {'fps':>8} {'MB':>7} {'vs veryfast':>13}")
    for preset, fps, size in encode:
        print(f"{'preset ' + preset:<38} {fps:>8.1f} {size:>7.2f} {fps / base:>12.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--workdir", default=None, help="folder for the generated clips (default: a new temp folder)")
    main(**vars(parser.parse_args()))
