"""Evaluate a lifter checkpoint on a Human3.6M-layout benchmark, as ``hmr eval h36m-lifter`` does.

    python demos/evaluate_checkpoint.py [CHECKPOINT] [--out DIR] [--keypoints coco|gt]

CHECKPOINT defaults to the shipped demo lifter (``lifting.DEMO_WEIGHTS``). The benchmark is a
small synthetic Human3.6M that the script writes first (``hmr make-synthetic-h36m``: the
mannequin in procedural motion, seen by the published S9 and S11 cameras; nothing downloaded).
Prints MPJPE and PA-MPJPE (VideoPose3D's protocols #1 and #2) and every report file written.
"""

import argparse
from pathlib import Path

from hmr.commands.evaluate import evaluate_benchmark
from hmr.evaluation.report import format_table
from lifting import DEMO_WEIGHTS
from lifting.synthetic import make_synthetic_h36m

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint", nargs="?", type=Path, default=DEMO_WEIGHTS,
                    help="VideoPose3D .bin or project checkpoint (default: the demo lifter)")
parser.add_argument("--out", type=Path, default=Path("demo_out/evaluate_checkpoint"), help="output folder")
parser.add_argument("--keypoints", choices=("coco", "gt"), default="coco",
                    help="the 2D input the checkpoint takes: coco (COCO-17, default) or gt (H36M-17)")
parser.add_argument("--downsample", type=int, default=None,
                    help="keep every n-th frame of the 50 fps data (default: 2 for the 25 fps demo lifter, else 1)")
args = parser.parse_args()

data = make_synthetic_h36m(args.out / "data", frames=100, subjects=("S9", "S11"), takes=1, keypoints=args.keypoints,
                           actions={"Walking": "walk", "Sitting": "squat", "Directions": "turn"})
for role, path in data.items():
    print(f"wrote data_{role}: {path}")

downsample = args.downsample or (2 if args.checkpoint == DEMO_WEIGHTS else 1)
report_dir = args.out / "report"
report = evaluate_benchmark("h36m-lifter", data["3d"], report_dir, args.checkpoint, keypoints_2d=data["2d"],
                            downsample=downsample, progress=False)
print(format_table(report))
for path in sorted(report_dir.iterdir()):  # results.json, results.csv, table.txt, figures, run.json
    if path.is_file():
        print(f"wrote report: {path}")
overall = report.variants[0].overall.values  # mm
print(f"MPJPE mm = {overall['mpjpe_mm']:.1f}")
print(f"PA-MPJPE mm = {overall['pa_mpjpe_mm']:.1f}")
