"""Person detection and tracking on a real video: how many people are tracked, for how long.

    python benchmarks/bench_tracking.py vtest.avi --detector hog --frames 200 --snapshots out/

Runs a detector (``hmr.pose2d.detectors``) and the tracker (``hmr.pose2d.boxes.IoUTracker``) on every
frame, without HRNet, and prints a table: frames, detections per frame, tracks, track lengths,
and detector time per frame in milliseconds. With ``--snapshots`` it writes a few frames with
the boxes and track ids drawn, to count id switches by eye.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--detector", default="hog")
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    parser.add_argument("--min-track", type=int, default=5, help="tracks shorter than this are not counted")
    parser.add_argument("--snapshots", type=Path, default=None, help="folder for frames with ids drawn")
    parser.add_argument("--every", type=int, default=25, help="snapshot every N frames")
    args = parser.parse_args()

    import cv2

    from hmr.pose2d.boxes import IoUTracker
    from hmr.pose2d.detectors import make_detector
    from hmr.io.video import iter_frames, probe_video

    info = probe_video(args.video)
    detect = make_detector(args.detector)
    tracker = IoUTracker()
    spans: dict[int, list[int]] = {}
    counts, seconds = [], 0.0
    for frame in iter_frames(args.video, stop=args.frames):
        start = time.perf_counter()
        found = detect(frame.image)
        seconds += time.perf_counter() - start
        ids = tracker.update(frame.index, found[:, :4]) if len(found) else np.zeros(0, np.int64)
        counts.append(len(found))
        for i in ids:
            spans.setdefault(int(i), []).append(frame.index)
        if args.snapshots is not None and frame.index % args.every == 0:
            image = frame.image[..., ::-1].copy()
            for box, i in zip(found, ids):
                x1, y1, x2, y2 = (int(v) for v in box[:4])
                cv2.rectangle(image, (x1, y1), (x2, y2), (0, 255, 0), 2)
                cv2.putText(image, str(int(i)), (x1, max(12, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
            args.snapshots.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.snapshots / f"frame_{frame.index:05d}.png"), image)
    kept = {i: f for i, f in spans.items() if len(f) >= args.min_track}
    lengths = sorted((len(f) for f in kept.values()), reverse=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"{args.video.name}: {info.width}x{info.height}, {info.fps:g} fps, detector {args.detector}, commit {commit}")
    print(f"| frames | detections/frame | tracks (all) | tracks >= {args.min_track} f | median length (f) "
          "| longest (f) | detector ms/frame |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {len(counts)} | {np.mean(counts):.2f} | {len(spans)} | {len(kept)} | "
          f"{np.median(lengths) if lengths else 0:.0f} | {lengths[0] if lengths else 0} | "
          f"{1000 * seconds / max(len(counts), 1):.0f} |")
    print("track lengths (frames): " + ", ".join(map(str, lengths)))


if __name__ == "__main__":
    main()
