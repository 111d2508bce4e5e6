"""The official files users bring, where each is configured, and checks of local copies.

Nothing here downloads anything. A file's path comes from, in order:

1. a command-line flag (the caller passes it as ``explicit``);
2. the environment variable ``HMR_WEIGHTS_<KEY>`` (e.g. ``HMR_WEIGHTS_HRNET_W32``);
3. the config file (``--config``, else ``$HMR_CONFIG``, else ``~/.config/hmr/config.yaml``)::

       weights:
         hrnet_w32: /data/weights/pose_hrnet_w32_256x192.pth
         spin: {path: /data/spin/model_checkpoint.pt, sha256: 0123abcd...}

4. the official file name inside ``$HMR_DATA_DIR`` (or ``--data-dir``).

The publishers do not publish SHA-256 sums for these files, so none is built in: pin the sums of
the copies you trust in the config file (``sha256:``), and ``hmr weights`` verifies them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from body_models.configs import read_yaml
from body_models.errors import InputError, MissingFileError
from hmr.core.provenance import file_sha256

__all__ = [
    "Check",
    "KNOWN_FILES",
    "OfficialFile",
    "Resolved",
    "check_all",
    "config_path",
    "format_checks",
    "require",
    "resolve",
]


@dataclass(frozen=True)
class OfficialFile:
    """A file published by someone else that the project reads as is."""

    key: str
    filenames: tuple[str, ...]  # the official name first; alternatives after
    role: str
    publisher: str
    source: str
    licence: str

    @property
    def env_var(self) -> str:
        return f"HMR_WEIGHTS_{self.key.upper()}"


_SMPL = ("MPI-IS (SMPL)", "smpl.is.tue.mpg.de, registration required", "SMPL Model License, non-commercial research")
_SMPLIFY = ("MPI-IS (SMPLify)", "smplify.is.tue.mpg.de, registration required; also in SPIN's data",
            "SMPLify licence, non-commercial research")
_SPIN = ("N. Kolotouros et al. (SPIN)", "github.com/nkolot/SPIN, fetch_data.sh", "BSD-3-Clause (SPIN repository)")
_VP3D = ("Facebook Research (VideoPose3D)", "github.com/facebookresearch/VideoPose3D, README", "CC BY-NC 4.0")
_HRNET = ("B. Xiao, K. Sun et al. (HRNet)", "github.com/leoxiaobin/deep-high-resolution-net.pytorch, model zoo",
          "MIT")

KNOWN_FILES: tuple[OfficialFile, ...] = (
    OfficialFile("hrnet_w32", ("pose_hrnet_w32_256x192.pth",), "HRNet W32 COCO 256x192, 2D keypoints", *_HRNET),
    OfficialFile("hrnet_w48", ("pose_hrnet_w48_384x288.pth",), "HRNet W48 COCO 384x288, 2D keypoints", *_HRNET),
    OfficialFile("vp3d_coco", ("pretrained_h36m_detectron_coco.bin",),
                 "VideoPose3D 243 frames, COCO-17 input (the HRNet -> lifter chain)", *_VP3D),
    OfficialFile("vp3d_cpn", ("pretrained_h36m_cpn.bin",), "VideoPose3D 243 frames, H36M-17 CPN input", *_VP3D),
    OfficialFile("spin", ("model_checkpoint.pt",), "SPIN HMR regressor", *_SPIN),
    OfficialFile("spin_mean_params", ("smpl_mean_params.npz",), "regressor initial pose, shape and camera", *_SPIN),
    OfficialFile("j_regressor_h36m", ("J_regressor_h36m.npy",), "H36M-17 joints from SMPL vertices", *_SPIN),
    OfficialFile("j_regressor_extra", ("J_regressor_extra.npy",), "SPIN's 9 extra joints", *_SPIN),
    OfficialFile("gmm_08", ("gmm_08.pkl",), "SMPLify GMM pose prior", *_SMPLIFY),
    OfficialFile("smpl_neutral", ("SMPL_NEUTRAL.pkl", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"),
                 "SMPL neutral body model", "MPI-IS (SMPLify)", "smplify.is.tue.mpg.de, registration required",
                 "SMPLify licence, non-commercial research"),
    OfficialFile("smpl_male", ("SMPL_MALE.pkl", "basicmodel_m_lbs_10_207_0_v1.0.0.pkl"), "SMPL male (3DPW ground truth)", *_SMPL),
    OfficialFile("smpl_female", ("SMPL_FEMALE.pkl", "basicModel_f_lbs_10_207_0_v1.0.0.pkl"), "SMPL female (3DPW ground truth)", *_SMPL),
)
_BY_KEY = {f.key: f for f in KNOWN_FILES}


@dataclass(frozen=True)
class Resolved:
    """Where a known file is configured and what was found there."""

    file: OfficialFile
    path: Path | None
    configured_by: str  # "flag", "env HMR_WEIGHTS_X", "config FILE", "data dir DIR" or "not configured"
    pinned_sha256: str | None

    @property
    def exists(self) -> bool:
        return self.path is not None and self.path.is_file()


def config_path(config: str | os.PathLike | None = None) -> Path:
    """The config file in use: ``config``, else ``$HMR_CONFIG``, else ``~/.config/hmr/config.yaml``."""
    if config is not None:
        return Path(config)
    return Path(os.environ.get("HMR_CONFIG") or Path.home() / ".config" / "hmr" / "config.yaml")


def _config_entries(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    weights = read_yaml(path).get("weights") or {}
    if not isinstance(weights, dict):
        raise InputError(f"{path}: 'weights' must map file keys to paths")
    entries = {}
    for key, value in weights.items():
        if key not in _BY_KEY:
            raise InputError(f"{path}: unknown weights key {key!r}; known keys: {', '.join(_BY_KEY)}")
        entry = {"path": value} if isinstance(value, str) else dict(value or {})
        if "path" not in entry:
            raise InputError(f"{path}: weights entry {key!r} needs a path")
        digest = entry.get("sha256")
        if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                       and all(c in "0123456789abcdefABCDEF" for c in digest)):
            raise InputError(f"{path}: weights entry {key!r}: sha256 must be 64 hex digits in quotes, got {digest!r}")
        entries[key] = entry
    return entries


def resolve(key: str, explicit: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
            data_dir: str | os.PathLike | None = None) -> Resolved:
    """Where the known file ``key`` is configured (see the module docstring for the order)."""
    if key not in _BY_KEY:
        raise InputError(f"unknown weights key {key!r}; known keys: {', '.join(_BY_KEY)}")
    file = _BY_KEY[key]
    cfg = config_path(config)
    entry = _config_entries(cfg).get(key, {})
    pinned = entry.get("sha256")
    if explicit is not None:
        return Resolved(file, Path(explicit).expanduser(), "flag", pinned)
    if os.environ.get(file.env_var):
        return Resolved(file, Path(os.environ[file.env_var]).expanduser(), f"env {file.env_var}", pinned)
    if entry:
        return Resolved(file, Path(entry["path"]).expanduser(), f"config {cfg}", pinned)
    folder = data_dir or os.environ.get("HMR_DATA_DIR")
    if folder:
        for name in file.filenames:
            candidate = Path(folder).expanduser() / name
            if candidate.is_file():
                return Resolved(file, candidate, f"data dir {folder}", pinned)
    return Resolved(file, None, "not configured", pinned)


def require(key: str, explicit=None, config=None, data_dir=None) -> Path:
    """The path of a known file, or a one-line ``MissingFileError`` saying what to get and where."""
    found = resolve(key, explicit, config, data_dir)
    if found.exists:
        return found.path
    file = found.file
    where = f"configured by {found.configured_by} as {found.path}, which does not exist" if found.path else "not configured"
    raise MissingFileError(
        f"{file.filenames[0]} ({file.role}) is {where}; get it from {file.publisher}: {file.source} "
        f"({file.licence}), then pass its path, set {file.env_var}, or add it to {config_path(config)}")


@dataclass(frozen=True)
class Check:
    resolved: Resolved
    sha256: str | None
    status: str  # "missing", "not configured", "present", "verified", "MISMATCH"


def check_all(config=None, data_dir=None, explicit: dict[str, str] | None = None, hash_files: bool = True) -> list[Check]:
    """Resolve every known file and hash the local copies; compare with pinned sums."""
    results = []
    for file in KNOWN_FILES:
        found = resolve(file.key, (explicit or {}).get(file.key), config, data_dir)
        if found.path is None:
            results.append(Check(found, None, "not configured"))
            continue
        if not found.exists:
            results.append(Check(found, None, "missing"))
            continue
        digest = file_sha256(found.path) if hash_files else None
        if found.pinned_sha256 and digest:
            status = "verified" if digest == found.pinned_sha256.lower() else "MISMATCH"
        else:
            status = "present"
        results.append(Check(found, digest, status))
    return results


def format_checks(checks: list[Check]) -> str:
    """A plain-text table of ``check_all``'s results."""
    lines = []
    for c in checks:
        f = c.resolved.file
        lines.append(f"{f.key:<18} {f.filenames[0]:<38} {c.status:<15} {c.resolved.configured_by}")
        lines.append(f"{'':<18} {f.role}; {f.publisher}; {f.licence}; {f.source}")
        if c.resolved.path is not None:
            lines.append(f"{'':<18} path {c.resolved.path}")
        if c.sha256:
            pin = f" (pinned {c.resolved.pinned_sha256})" if c.resolved.pinned_sha256 else " (not pinned)"
            lines.append(f"{'':<18} sha256 {c.sha256}{pin}")
    return "\n".join(lines)
