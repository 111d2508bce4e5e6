"""``hmr weights``: the official files, where each is configured, and checks of local copies."""

import argparse
from pathlib import Path


def _weights(args: argparse.Namespace) -> int:
    from hmr.core.weights import check_all, config_path, format_checks

    checks = check_all(config=args.config, data_dir=args.data_dir, hash_files=not args.no_hash)
    print(f"config file: {config_path(args.config)}")
    print(format_checks(checks))
    print("shipped with the package (synthetic-trained stand-ins, used where the file above is not configured):")
    from hmr.pose2d.checkpoints import DEMO_WEIGHTS as DEMO_HRNET
    from hmr.regressor.checkpoints import DEMO_WEIGHTS as DEMO_REGRESSOR
    from lifting import DEMO_WEIGHTS as DEMO_LIFTER

    shipped = [
        ("demo_hrnet", DEMO_HRNET, "stands in for hrnet_w32 in run, keypoints",
         "HRNet W16, 128x160 input, COCO-17, trained on the synthetic image world only "
         "(configs/pose2d/train_demo.yaml); it knows the mannequin, not real people"),
        ("demo_lifter", DEMO_LIFTER, "stands in for vp3d_coco in run, lift, demo",
         "VideoPose3D 27 frames, 256 channels, COCO-17 input, trained on mannequin motion only "
         "(configs/lifting/train_demo.yaml)"),
        ("demo_regressor", DEMO_REGRESSOR, "stands in for spin in run, demo",
         "HMR (IEF, rot6d) on ResNet-18, 160x160 input, fp16, trained on the synthetic image world only "
         "(configs/regressor/train_demo.yaml); it knows the mannequin, not real people"),
    ]
    for name, path, role, what in shipped:
        print(f"{name:<18} {path.name:<38} {'shipped' if path.is_file() else 'missing':<15} {role}")
        print(f"{'':<18} {what}")
        print(f"{'':<18} path {path}")
        if not args.no_hash and path.is_file():
            from hmr.core.provenance import file_sha256

            print(f"{'':<18} sha256 {file_sha256(path)}")
    print(f"{'mannequin':<18} {'(generated on first use)':<38} {'shipped':<15} stands in for smpl_neutral, "
          "gmm_08, spin_mean_params, j_regressor_*")
    return 1 if any(c.status in ("MISMATCH", "missing") for c in checks) else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``hmr weights``."""
    p = sub.add_parser("weights", help="list the official weight and model files, where each is configured, and verify local copies")
    p.add_argument("--config", type=Path, default=None, help="config file (default: $HMR_CONFIG or ~/.config/hmr/config.yaml)")
    p.add_argument("--data-dir", type=Path, default=None, help="folder holding files under their official names (default: $HMR_DATA_DIR)")
    p.add_argument("--no-hash", action="store_true", help="skip SHA-256 of local copies")
    p.set_defaults(func=_weights)
