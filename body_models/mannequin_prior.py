"""The mannequin's pose prior, precomputed and shipped, with the build that reproduces it.

Fitting the 8-component GMM to ``PRIOR_NUM_POSES`` procedural poses takes most of the
mannequin's first-use time (tens of seconds on two busy cores), so its result ships with the
package as ``body_models/data/mannequin_prior_v<PRIOR_VERSION>.npz`` and first use only copies it
into the cache in SMPLify's ``gmm_08.pkl`` layout. Rebuild it after changing
``body_models.motion`` (or its ``body_models.joint_limits``) or the fit (and bump ``PRIOR_VERSION``)::

    hmr mannequin --build-prior            # rewrites the shipped file
    python3 -m pytest -q tests/body_models/test_mannequin_prior.py

The shipped file records the SHA-256 of the poses it was fitted to; the test checks that the
poses of today's ``motion.sample_poses`` still give that digest and that the shipped mixture is a
fixed point of the fit's EM on them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

import numpy as np

from body_models.atomic import write_bytes
from body_models.errors import InputError

__all__ = ["PRIOR_NUM_POSES", "PRIOR_VERSION", "SHIPPED_PRIOR", "build_prior", "load_shipped_prior", "prior_poses",
           "poses_digest", "save_shipped_prior"]

PRIOR_NUM_POSES = 8000
PRIOR_SEED = 0
PRIOR_COMPONENTS = 8
PRIOR_VERSION = "1"  # bump when body_models.motion or the prior fit changes (mannequin re-exports it)
SHIPPED_PRIOR = Path(__file__).with_name("data") / f"mannequin_prior_v{PRIOR_VERSION}.npz"
_log = logging.getLogger(__name__)


def prior_poses() -> np.ndarray:
    """(PRIOR_NUM_POSES, 69) float32 procedural body poses the prior is fitted to, radians."""
    from body_models.motion import sample_poses

    return sample_poses(PRIOR_NUM_POSES, seed=PRIOR_SEED)


def poses_digest(poses: np.ndarray) -> str:
    """SHA-256 (hex) of the poses' float32 bytes."""
    return hashlib.sha256(np.ascontiguousarray(poses, dtype=np.float32).tobytes()).hexdigest()


def build_prior():
    """Fit the mannequin's prior from scratch (``priors.fit_gmm`` on ``prior_poses()``)."""
    from body_models.priors import fit_gmm

    return fit_gmm(prior_poses(), n_components=PRIOR_COMPONENTS, seed=PRIOR_SEED)


def save_shipped_prior(path: str | os.PathLike = SHIPPED_PRIOR) -> Path:
    """Build the prior and write it, with the digest of its poses, as an ``.npz`` (atomically)."""
    poses = prior_poses()
    gmm = build_prior()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, means=gmm.means, covars=gmm.covars, weights=gmm.weights,
                        poses_sha256=np.array(poses_digest(poses)), version=np.array(PRIOR_VERSION))
    return write_bytes(Path(path), buffer.getvalue())


def load_shipped_prior(path: str | os.PathLike = SHIPPED_PRIOR):
    """The shipped prior as a ``priors.GMMPrior``, or None when the file is missing or damaged."""
    from body_models.priors import GMMPrior

    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["version"]) != PRIOR_VERSION:
                return None
            return GMMPrior(means=z["means"], covars=z["covars"], weights=z["weights"])
    except (OSError, KeyError, ValueError, InputError) as err:
        _log.warning("ignoring the damaged shipped prior %s (%s); fitting it instead", path, err)
        return None
