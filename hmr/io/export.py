"""``export_run``: a run folder's SMPL motion as BVH, glb and AMASS npz files.

    hmr export out/ --format bvh,glb,amass --up y --person 0

Each person gets ``<out>/person_<track>.bvh``, ``person_<track>.glb`` and
``person_<track>_amass.npz``. The motion is in the world frame when the run has ``world.npz``,
else in the camera frame, turned so that y (or z) is up; every file says which.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from body_models.errors import InputError
from body_models.sequences import SMPLSequence
from body_models.smpl import MANNEQUIN, SMPL, load_smpl
from hmr.io.motion import UPS, load_motion, rest_body

FORMATS = ("bvh", "glb", "amass")
SUFFIXES = {"bvh": ".bvh", "glb": ".glb", "amass": "_amass.npz"}


def parse_formats(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"bvh,glb"`` (or a list of names) → ``("bvh", "glb")``; an unknown name is a one-line error."""
    names = [n.strip().lower() for part in ([text] if isinstance(text, str) else text)
             for n in str(part).split(",") if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise InputError(f"unknown export format {', '.join(unknown) or repr(text)}; choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def _recorded(run_dir: Path, key: str) -> str | None:
    try:
        return json.loads((run_dir / "run.json").read_text())["arguments"].get(key)
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def body_model_for(run_dir: Path, recorded_name: str, body_model: str | os.PathLike | None,
                   gender: str) -> SMPL:
    """The SMPL layer that made ``smpl.npz``: the mannequin, the file given, or the one run.json names."""
    if body_model is None:
        body_model = MANNEQUIN if recorded_name == MANNEQUIN else _recorded(run_dir, "body_model")
    if body_model is None or (recorded_name != MANNEQUIN and str(body_model) == MANNEQUIN):
        raise InputError(f"{run_dir / 'smpl.npz'} was fitted with {recorded_name}; pass --body-model with that file")
    smpl = load_smpl(body_model, gender=gender)
    if smpl.name != recorded_name:
        raise InputError(f"{run_dir / 'smpl.npz'} was fitted with {recorded_name}, not {smpl.name}; "
                         "pass --body-model with the model file the run used")
    return smpl


def export_run(run_dir: str | os.PathLike, formats=FORMATS, up: str = "y", person: int | None = None,
               out_dir: str | os.PathLike | None = None, body_model: str | os.PathLike | None = None,
               gender: str | None = None) -> dict[str, Path]:
    """Write the run's motion in each format.

    Args:
        run_dir: an ``hmr run`` / ``hmr demo`` output folder with ``smpl.npz``.
        formats: names from ``FORMATS`` (or one comma-separated string).
        up: ``y`` or ``z`` for BVH and AMASS (glTF is always y up).
        person: one track ID; None for every person with a fit.
        out_dir: where the files go (default ``run_dir/export``).
        body_model: the SMPL file the run used (default: the mannequin, or what run.json names).
        gender: for a model folder (default: what run.json names, else neutral).

    Returns:
        {"<format>_<track>": path} for every file written.
    """
    from hmr.io.export_amass import write_amass
    from hmr.io.export_bvh import write_bvh
    from hmr.io.export_gltf import write_glb

    run_dir = Path(run_dir)
    formats = parse_formats(formats)
    if up not in UPS:
        raise InputError(f"unknown up axis {up!r}; choose y or z")
    first = load_motion(run_dir, person)  # checks the run folder and the person
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    gender = gender or _recorded(run_dir, "gender") or "neutral"
    smpl = body_model_for(run_dir, first.body_model, body_model, gender)
    if person is None:
        fit = SMPLSequence.load(run_dir / "smpl.npz")
        fitted = fit.valid.any(0) & np.isfinite(fit.transl).all(-1).any(0)
        people = [int(t) for t, ok in zip(fit.track_ids, fitted) if ok]
    else:
        people = [first.track_id]
    written = {}
    for track in people:
        motion = load_motion(run_dir, track)
        motion.gender = gender
        stem = out_dir / f"person_{track}"
        for name in formats:
            path = Path(f"{stem}{SUFFIXES[name]}")
            if name == "bvh":
                turned = motion.to_up(up, smpl)
                written[f"bvh_{track}"] = write_bvh(turned, rest_body(smpl, turned.betas), path)
            elif name == "glb":
                written[f"glb_{track}"] = write_glb(motion.to_up("y", smpl), smpl, path)
            else:
                written[f"amass_{track}"] = write_amass(motion.to_up(up, smpl), path)
    return written

