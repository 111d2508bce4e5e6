"""``hmr weights``: the official files, where each is configured, and checks of local copies."""

import argparse
from pathlib import Path


def _weights(args: argparse.Namespace) -> int:
    from hmr.weights import check_all, config_path, format_checks

    checks = check_all(config=args.config, data_dir=args.data_dir, hash_files=not args.no_hash)
    print(f"config file: {config_path(args.config)}")
    print(format_checks(checks))
    return 1 if any(c.status in ("MISMATCH", "missing") for c in checks) else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``hmr weights``."""
    p = sub.add_parser("weights", help="list the official weight and model files, where each is configured, and verify local copies")
    p.add_argument("--config", type=Path, default=None, help="config file (default: $HMR_CONFIG or ~/.config/hmr/config.yaml)")
    p.add_argument("--data-dir", type=Path, default=None, help="folder holding files under their official names (default: $HMR_DATA_DIR)")
    p.add_argument("--no-hash", action="store_true", help="skip SHA-256 of local copies")
    p.set_defaults(func=_weights)
