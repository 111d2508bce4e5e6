"""The synthetic "mannequin": a stand-in for the licensed SMPL model, in SMPL's exact layout.

Real SMPL files cannot be shipped, so tests and the demo use this body instead. It has SMPL's
array names, shapes and conventions (6,890 vertices, 13,776 faces, 24 joints, 10 shape and 207
pose-corrective components; FORMATS §4), runs through ``smplx.SMPL(data_struct=...)`` unchanged,
and looks like a plain human mannequin when rendered:

- SMPL frame: metres, y up, the subject faces +z, the subject's left side is at +x. Rest pose
  is SMPL's T-pose (arms out, palms down, legs slightly apart); about 1.69 m tall, pelvis joint
  near (0, -0.22, 0), soles near y = -1.165, top of the head near y = 0.53.
- One closed, outward-oriented, genus-0 triangle mesh (a smooth union of tapered elliptic
  capsules around the skeleton, extracted by marching tetrahedra and remeshed to exactly 6,890
  vertices). Head with nose, brow, chin and ears; mitten hands with a thumb; feet pointing +z.
- Vertex order puts SMPL's landmark vertices (``joints.SMPL_LANDMARK_VERTICES``: nose, eyes,
  ears, toes, heels, finger tips) at the matching spots, so smplx's 21 extra joints land where
  they should.
- ``J_regressor`` rows are non-negative, sum to 1 and use a ring of vertices around each joint;
  the joints ``J`` are defined as ``J_regressor @ v_template``.
- LBS ``weights`` are smooth blends of the parts' distance fields, limited to neighbouring bones.
- ``shapedirs`` (10 components, per unit of β, a few centimetres each like SMPL's; +1 gives):

  0. taller: uniform scale by 2.1 % about the pelvis joint (about +3.5 cm height);
  1. heavier: torso, hips and neck girth +8.5 % (waist radius about +1.2 cm);
  2. broader shoulders, same reach: collar bones +1.2 cm each, chest 7 % wider, each arm bone
     0.6 cm shorter;
  3. longer legs, shorter trunk: thighs and shins +1.25 cm each, spine 1.5 cm shorter;
  4. belly: the abdomen bulges forward by up to 1.5 cm;
  5. wider hips: each leg 0.8 cm further out, pelvis 6 % wider;
  6. longer arms: upper arm and forearm +1.2 cm each;
  7. bigger head: head scaled by 4.5 %;
  8. deeper chest: chest 8 % deeper front to back, upper arms 5 % thicker;
  9. thicker limbs: arms and legs +8 % radius (thighs +4 %).

- ``posedirs``: for each of the 23 non-root joints, small smooth bulges near that joint, linear
  in the nine entries of ``R - I`` (SMPL's pose feature), so they vanish at the rest pose.

Companion files in the official layouts: ``J_regressor_h36m`` (17 rows in SPIN's order,
``joints.H36M_REGRESSOR_17``), ``J_regressor_extra`` (9 rows, ``joints.SMPL_EXTRA_9``) and
``smpl_mean_params.npz`` (SPIN's layout, FORMATS §3.3). Everything is generated on first use,
deterministically (same bytes each run), and cached under ``$HMR_CACHE_DIR`` (default
``~/.cache/hmr``) in file names that carry ``GENERATOR_VERSION``.

The package, by concern (names with a leading underscore are its own, not for users):

- ``design``: the designed joints, landmark rays and the implicit body's primitives;
- ``implicit``, ``marching``, ``remesh``, ``mesh_ops``: the mesh machinery (primitives' fields
  and their smooth union, surface extraction, remeshing to an exact vertex count);
- ``surface``: the body meshed to 6,890 vertices in SMPL's vertex order;
- ``rig``: skinning weights and the joint regressor; ``correctives``: shape and pose blend
  shapes; ``build``: the model assembled (``build_mannequin``);
- ``companions``: the H36M and extra regressors and SPIN's mean parameters;
- ``files``: the files' bytes and checks; this module: where they are cached, made on first use.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from body_models.atomic import write_bytes
from body_models.errors import HMRError
from body_models.joints import H36M_REGRESSOR_17, SMPL_EXTRA_9
from body_models.mannequin.build import build_mannequin
from body_models.mannequin.companions import _extra_regressor, _h36m_regressor, mean_params
from body_models.mannequin.design import design_joints
from body_models.mannequin.files import _check_mean, _check_model, _npy_bytes, _npz_bytes, _read_valid, _shape_check
from body_models.mannequin.layout import MODEL_KEYS, MODEL_NAME, N_BETAS, N_FACES, N_POSE_BASIS, N_VERTS
from body_models.mannequin_prior import PRIOR_NUM_POSES, PRIOR_VERSION  # the prior's build lives there

__all__ = ["CACHE_ENV", "GENERATOR_VERSION", "MODEL_KEYS", "MODEL_NAME", "N_BETAS", "N_FACES", "N_POSE_BASIS",
           "N_VERTS", "PRIOR_NUM_POSES", "PRIOR_VERSION", "build_mannequin", "cache_dir", "design_joints",
           "export_files", "gmm_prior_path", "j_regressor_extra_path", "j_regressor_h36m_path", "load_mannequin",
           "mean_params", "mean_params_path", "model_path"]

_log = logging.getLogger(__name__)
GENERATOR_VERSION = "1"
"""In the cached files' names: bump it when the generator's output changes, so old caches are not read."""
CACHE_ENV = "HMR_CACHE_DIR"
"""The environment variable naming the cache folder (default ``~/.cache/hmr``)."""


def cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder the mannequin files live in: ``cache_dir`` if given, else ``$HMR_CACHE_DIR``,
    else ``~/.cache/hmr``; with a ``mannequin`` subfolder."""
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "hmr"
    return Path(cache_dir).expanduser() / "mannequin"


def _file(kind: str, cache: str | os.PathLike | None) -> Path:
    names = {
        "model": f"mannequin_v{GENERATOR_VERSION}.npz",
        "h36m": f"J_regressor_h36m_mannequin_v{GENERATOR_VERSION}.npy",
        "extra": f"J_regressor_extra_mannequin_v{GENERATOR_VERSION}.npy",
        "mean": f"smpl_mean_params_mannequin_v{GENERATOR_VERSION}.npz",
        "prior": f"gmm_08_mannequin_prior_v{PRIOR_VERSION}.pkl",
    }
    return cache_dir(cache) / names[kind]


def load_mannequin(cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The mannequin's arrays (see ``build_mannequin``), generated and cached on first use."""
    path = model_path(cache_dir)
    with np.load(path, allow_pickle=False) as z:
        return dict(z)


def model_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin model file (``.npz`` in SMPL's layout), generated on first call.

    Load it with ``body_models.load_model_file`` or
    ``smplx.SMPL("", data_struct=smplx.utils.Struct(**dict(np.load(path))))``.

    Args:
        cache_dir: folder for the generated files; default ``$HMR_CACHE_DIR`` or ``~/.cache/hmr``.

    Returns:
        the path, ``<cache>/mannequin/mannequin_v<GENERATOR_VERSION>.npz``. A missing or damaged
        file is (re)generated and written atomically.
    """
    path = _file("model", cache_dir)
    if _read_valid(path, _check_model) is None:
        _log.info("building the mannequin body model (first use, about 10 s) into %s", path)
        write_bytes(path, _npz_bytes(build_mannequin()))
    return path


def _companion(kind: str, cache_dir, make, check) -> Path:
    path = _file(kind, cache_dir)
    if _read_valid(path, check) is None:
        model = load_mannequin(cache_dir)
        write_bytes(path, make(model))
    return path


def j_regressor_h36m_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's ``J_regressor_h36m`` stand-in: a ``.npy`` (17, 6890) float64,
    rows in SPIN's order (``joints.H36M_REGRESSOR_17``, left leg first). Generated on first call."""
    return _companion("h36m", cache_dir, lambda m: _npy_bytes(_h36m_regressor(m)),
                      _shape_check((len(H36M_REGRESSOR_17), N_VERTS)))


def j_regressor_extra_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's ``J_regressor_extra`` stand-in: a ``.npy`` (9, 6890) float64 in
    ``joints.SMPL_EXTRA_9`` order; the spine and jaw rows equal the H36M regressor's rows."""
    def make(model):
        return _npy_bytes(_extra_regressor(model, np.load(j_regressor_h36m_path(cache_dir))))
    return _companion("extra", cache_dir, make, _shape_check((len(SMPL_EXTRA_9), N_VERTS)))


def mean_params_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's ``smpl_mean_params.npz`` stand-in (SPIN's layout, see
    ``mean_params``). Written on first call."""
    path = _file("mean", cache_dir)
    if _read_valid(path, _check_mean) is None:
        write_bytes(path, _npz_bytes(mean_params()))
    return path


def gmm_prior_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the mannequin's pose prior in SMPLify's ``gmm_08.pkl`` layout, written on first call.

    An 8-component full-covariance GMM over the 69 body-pose values, fitted
    (``priors.fit_gmm``) to ``PRIOR_NUM_POSES`` procedural poses (``motion.sample_poses``), the
    way real users fit one to their mocap. The fit ships precomputed
    (``body_models.mannequin_prior``; ``hmr mannequin --build-prior`` rebuilds it), so first use
    only writes it. Read it with ``priors.load_gmm``.
    """
    from body_models.mannequin_prior import build_prior, load_shipped_prior
    from body_models.priors import load_gmm, save_gmm

    path = _file("prior", cache_dir)
    if path.exists():
        try:
            load_gmm(path)
            return path
        except HMRError as err:
            warnings.warn(f"regenerating the damaged mannequin prior {path} ({err})", stacklevel=2)
    gmm = load_shipped_prior()  # precomputed (body_models.mannequin_prior); fitted only without it
    if gmm is None:
        _log.info("fitting the mannequin's pose prior (first use, about a minute) into %s", path)
        gmm = build_prior()
    save_gmm(path, gmm)
    return path


def export_files(out_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """Copy the mannequin's files (generating them if needed) into ``out_dir``, atomically.

    Args:
        out_dir: destination folder (created if missing).
        cache_dir: as for ``model_path``.

    Returns:
        the written paths: the model ``.npz``, ``J_regressor_h36m`` and ``J_regressor_extra``
        ``.npy`` files, ``smpl_mean_params`` ``.npz`` and the ``gmm_08``-layout pose prior, named
        as in the cache.
    """
    sources = [model_path(cache_dir), j_regressor_h36m_path(cache_dir),
               j_regressor_extra_path(cache_dir), mean_params_path(cache_dir),
               gmm_prior_path(cache_dir)]
    out_dir = Path(out_dir)
    return [write_bytes(out_dir / src.name, src.read_bytes()) for src in sources]
