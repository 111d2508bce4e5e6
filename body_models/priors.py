"""Gaussian-mixture pose prior in SMPLify's ``gmm_08.pkl`` layout.

SMPLify (and SPIN's SMPLify in the loop) penalises unlikely body poses with an 8-component
full-covariance Gaussian mixture over the 69 body-pose values (23 joints × axis-angle, radians,
without the global orientation), scored as a "max-mixture": the negative log-likelihood of the
best-fitting component (FORMATS.md §3.11).

- ``GMMPrior``: the mixture's arrays.
- ``fit_gmm``: fit one to poses with EM (the mannequin's prior is fitted to ``motion.sample_poses``).
- ``save_gmm`` / ``load_gmm``: the ``gmm_08.pkl`` file, written so that SMPLify-X and SPIN can
  read it with plain ``pickle``, read without ever running code from the file.
- ``fit_prior_from_mocap``: the pose-prior tool (``hmr fit-prior``): a mocap ``.npz`` of SMPL
  poses in, a ``gmm_08.pkl``-layout file out.
- ``MaxMixturePrior``: the differentiable score, equal to SMPLify-X's ``MaxMixturePrior`` with
  ``use_merged=True``.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from scipy.special import logsumexp
from torch import nn

from body_models.atomic import write_bytes
from body_models.errors import InputError, MissingFileError, UnsafeFileError
from body_models.safe_pickle import load_pickle

__all__ = ["GMMPrior", "MaxMixturePrior", "MocapPrior", "fit_gmm", "fit_prior_from_mocap", "load_gmm",
           "save_gmm", "GMM_SOURCE"]

POSE_DIM = 69  # body_pose: 23 joints × 3 axis-angle values
_KEYS = ("means", "covars", "weights")
GMM_SOURCE = (
    "gmm_08.pkl is SMPLify's pose prior: download it from http://smplify.is.tue.mpg.de "
    "(registration, non-commercial licence), or run SPIN's fetch_data.sh, which puts it in "
    "data/gmm_08.pkl"
)
"""Where SMPLify's ``gmm_08.pkl`` comes from, for error messages."""


def _check_mixture(means: np.ndarray, covars: np.ndarray, weights: np.ndarray, where: str,
                   names: tuple[str, str, str] = _KEYS, dim: int | None = None) -> None:
    """Raise a one-line ``InputError`` unless the arrays form a valid K-component mixture."""
    for name, value in zip(names, (means, covars, weights)):
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            kind = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise InputError(f"{where}: key {name!r} must be a numeric array, got {kind}")
    if means.ndim != 2 or means.shape[0] < 1 or (dim is not None and means.shape[1] != dim):
        expected = f"(K, {dim})" if dim is not None else "(K, D)"
        raise InputError(f"{where}: key {names[0]!r} has shape {means.shape}, expected {expected}")
    k, d = means.shape
    if covars.shape != (k, d, d):
        raise InputError(f"{where}: key {names[1]!r} has shape {covars.shape}, expected {(k, d, d)} "
                         f"to match {names[0]!r} {means.shape}")
    if weights.shape != (k,):
        raise InputError(f"{where}: key {names[2]!r} has shape {weights.shape}, expected {(k,)} "
                         f"to match {names[0]!r} {means.shape}")
    for name, value in zip(names, (means, covars, weights)):
        if not np.isfinite(value).all():
            raise InputError(f"{where}: key {name!r} holds NaN or infinite values")
    if (weights <= 0).any():
        raise InputError(f"{where}: key {names[2]!r} must be positive, got min {weights.min():.3g}")
    for m, cov in enumerate(covars):
        scale = max(np.abs(cov).max(), np.finfo(np.float64).tiny)
        if np.abs(cov - cov.T).max() > 1e-6 * scale:
            raise InputError(f"{where}: key {names[1]!r}[{m}] is not symmetric")
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise InputError(f"{where}: key {names[1]!r}[{m}] is not positive definite") from None


@dataclass(frozen=True, eq=False)
class GMMPrior:
    """A full-covariance Gaussian mixture over body poses.

    Arrays are stored as read-only float64 copies.

    Attributes:
        means: (K, D) component means, radians (D = 69 for a body-pose prior).
        covars: (K, D, D) component covariances, symmetric positive definite, radians².
        weights: (K,) positive mixture weights (summing to 1 for a fitted mixture).
    """

    means: np.ndarray
    covars: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        arrays = [np.array(getattr(self, name), dtype=np.float64) for name in _KEYS]
        _check_mixture(*arrays, where="GMMPrior")
        for name, array in zip(_KEYS, arrays):
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def num_components(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]


# ---------------------------------------------------------------------------------------------
# Fitting


def _log_gaussians(x: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """(N, D), (K, D), (K, D, D) → (N, K) log N(x | μ_k, Σ_k), through Cholesky factors.

    All K whitenings are one (K·D, D) × (D, N) product: many small products run far slower
    than one large one when the BLAS threads share busy cores."""
    n, d = x.shape
    chols = np.stack([scipy.linalg.cholesky(cov, lower=True) for cov in covars])  # (K, D, D)
    whiten = np.stack([scipy.linalg.solve_triangular(c, np.eye(d), lower=True) for c in chols])  # L⁻¹
    z = (whiten.reshape(-1, d) @ x.T).reshape(len(means), d, n)  # (K, D, N)
    z -= np.einsum("kij,kj->ki", whiten, means)[:, :, None]  # L⁻¹ (x - μ)
    log_det = 2.0 * np.log(np.diagonal(chols, axis1=1, axis2=2)).sum(axis=1)  # (K,)
    return -0.5 * (d * np.log(2.0 * np.pi) + log_det[None] + np.einsum("kdn,kdn->nk", z, z))


def _m_step(x: np.ndarray, resp: np.ndarray, reg_covar: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (K,), means (K, D) and regularised covariances (K, D, D) from responsibilities (N, K)."""
    n, d = x.shape
    k = resp.shape[1]
    counts = resp.sum(axis=0) + 10.0 * np.finfo(np.float64).eps  # (K,), never zero
    means = resp.T @ x / counts[:, None]
    # Σ_k = Σ_n r_nk (x_n - μ_k)(x_n - μ_k)ᵀ / c_k, for all k in one (K·D, N) × (N, D) product
    # around the data mean (centred first, which keeps the float64 cancellation harmless).
    centre = x.mean(axis=0)
    xc = x - centre
    mc = resp.T @ xc / counts[:, None]  # (K, D) the means, centred (0 for an empty component)
    weighted = (resp.T[:, :, None] * xc[None]).transpose(0, 2, 1).reshape(k * d, n)  # (K·D, N)
    second = (weighted @ xc).reshape(k, d, d) / counts[:, None, None]  # E_k[xc xcᵀ]
    covars = second - mc[:, :, None] * mc[:, None, :] + reg_covar * np.eye(d)
    return counts / n, means, covars


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(k, D) initial centres: each next centre drawn with probability ∝ squared distance."""
    centres = [x[rng.integers(len(x))]]
    dist2 = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = dist2.sum()
        index = rng.choice(len(x), p=dist2 / total) if total > 0 else rng.integers(len(x))
        centres.append(x[index])
        dist2 = np.minimum(dist2, ((x - x[index]) ** 2).sum(axis=1))
    return np.stack(centres)


def _nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    dist2 = (x * x).sum(1)[:, None] - 2.0 * x @ centres.T + (centres * centres).sum(1)[None]
    return dist2.argmin(axis=1)


def fit_gmm(poses: np.ndarray, n_components: int = 8, seed: int = 0, max_iter: int = 100,
            reg_covar: float = 1e-4, tol: float = 1e-6) -> GMMPrior:
    """Fit a full-covariance Gaussian mixture with EM, in float64.

    Initialisation: k-means++ centres drawn with ``seed``, refined by 10 k-means steps, then
    hard assignments give the first weights, means and covariances. Each EM step uses
    Cholesky-factored log densities and log-sum-exp responsibilities; ``reg_covar`` is added to
    every covariance's diagonal. The result is deterministic for a given seed, and components
    are sorted by decreasing weight.

    Args:
        poses: (N, D) samples, e.g. (N, 69) axis-angle body poses in radians; N ≥ n_components.
        n_components: K.
        seed: seeds the initialisation.
        max_iter: at most this many EM steps.
        reg_covar: added to the covariance diagonals, radians².
        tol: stop when the mean log-likelihood per sample changes by less than this.

    Returns:
        The fitted ``GMMPrior`` (K components of dimension D).
    """
    x = np.asarray(poses, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise InputError(f"poses must have shape (N, D), got {x.shape}")
    if int(n_components) != n_components or not 1 <= n_components <= len(x):
        raise InputError(f"n_components must be between 1 and N = {len(x)}, got {n_components!r}")
    if not np.isfinite(x).all():
        raise InputError("poses hold NaN or infinite values")
    if not reg_covar >= 0:
        raise InputError(f"reg_covar must be non-negative, got {reg_covar!r}")
    k = int(n_components)
    rng = np.random.default_rng(seed)

    centres = _kmeans_plus_plus(x, k, rng)
    for _ in range(10):
        labels = _nearest(x, centres)
        for c in range(k):
            if (labels == c).any():
                centres[c] = x[labels == c].mean(axis=0)
    resp = np.eye(k)[_nearest(x, centres)]  # (N, K) hard assignments
    try:
        weights, means, covars = _m_step(x, resp, reg_covar)
        previous = -np.inf
        for _ in range(max_iter):
            log_joint = _log_gaussians(x, means, covars) + np.log(weights)  # (N, K)
            log_norm = logsumexp(log_joint, axis=1)  # (N,) log-likelihood of each sample
            resp = np.exp(log_joint - log_norm[:, None])
            weights, means, covars = _m_step(x, resp, reg_covar)
            current = log_norm.mean()
            if abs(current - previous) < tol:
                break
            previous = current
    except np.linalg.LinAlgError:
        raise InputError(f"fit_gmm: a covariance became singular; raise reg_covar (now {reg_covar})") from None
    order = np.argsort(-weights, kind="stable")
    return GMMPrior(means=means[order], covars=covars[order], weights=weights[order])


# ---------------------------------------------------------------------------------------------
# gmm_08.pkl


def _pickle_for_old_numpy(obj: object) -> bytes:
    """Protocol-2 pickle of ``obj`` whose numpy globals use the ``numpy.core`` module path.

    numpy 2 names its array-rebuilding functions under ``numpy._core``, a module numpy 1.x does
    not have; SMPLify-X and SPIN environments usually run numpy 1.x. numpy 2 still resolves
    ``numpy.core`` names when unpickling, so the rewritten file loads under both.
    """
    data = pickle.dumps(obj, protocol=2)
    ops = list(pickletools.genops(data))
    out, last = io.BytesIO(), 0
    for (opcode, arg, pos), (_, _, next_pos) in zip(ops, ops[1:]):
        if opcode.name == "GLOBAL" and arg.startswith("numpy._core."):
            module, name = arg.split(" ")
            out.write(data[last:pos])
            out.write(b"c" + f"numpy.core.{module[len('numpy._core.'):]}\n{name}\n".encode("ascii"))
            last = next_pos
    out.write(data[last:])
    return out.getvalue()


def save_gmm(path: str | os.PathLike, gmm: GMMPrior) -> Path:
    """Write a ``GMMPrior`` as a ``gmm_08.pkl``-layout file, atomically.

    The file is a protocol-2 pickle of ``{'means': (K, 69), 'covars': (K, 69, 69),
    'weights': (K,)}`` float64 numpy arrays, as SMPLify-X and SPIN read it with
    ``pickle.load(f, encoding='latin1')`` (``gmm_08.pkl`` itself has K = 8).

    Args:
        path: destination file.
        gmm: a body-pose prior (dimension 69).

    Returns:
        The path written.
    """
    if not isinstance(gmm, GMMPrior):
        raise InputError(f"save_gmm expects a GMMPrior, got {type(gmm).__name__}")
    if gmm.dim != POSE_DIM:
        raise InputError(f"save_gmm: the gmm_08.pkl layout holds {POSE_DIM}-dimensional body poses, "
                         f"got dimension {gmm.dim}")
    payload = {name: np.array(getattr(gmm, name), dtype=np.float64) for name in _KEYS}
    return write_bytes(path, _pickle_for_old_numpy(payload))


def load_gmm(path: str | os.PathLike) -> GMMPrior:
    """Read a ``gmm_08.pkl``-layout pose prior without running code from the file.

    Accepts a pickled dict with ``means``, ``covars``, ``weights`` or the sklearn-style keys
    ``means_``, ``covars_``, ``weights_`` (a pickled sklearn object itself is refused: it would
    need sklearn's code to load).

    Args:
        path: the ``.pkl`` file.

    Returns:
        The ``GMMPrior`` (K components of dimension 69).

    Raises:
        MissingFileError: no file at ``path``; the message says where ``gmm_08.pkl`` comes from.
        UnsafeFileError: the pickle names code outside the numpy-array allow-list.
        InputError: the file is not a pickle of the expected dict, or an array has the wrong shape.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"GMM pose prior not found at {path}; {GMM_SOURCE}")
    try:
        content = load_pickle(path)
    except UnsafeFileError as error:
        raise UnsafeFileError(f"{error} (a GMM prior file holds only a dict of numpy arrays "
                              f"{', '.join(repr(k) for k in _KEYS)})") from None
    if not isinstance(content, dict):
        raise InputError(f"{path}: expected a pickled dict with keys {', '.join(repr(k) for k in _KEYS)}, "
                         f"got {type(content).__name__}")
    names = []
    for key in _KEYS:
        found = next((name for name in (key, key + "_") if name in content), None)
        if found is None:
            raise InputError(f"{path}: key {key!r} (or {key + '_'!r}) is missing; found keys "
                             f"{sorted(map(str, content))}")
        names.append(found)
    arrays = [content[name] for name in names]
    _check_mixture(*arrays, where=str(path), names=tuple(names), dim=POSE_DIM)
    return GMMPrior(*arrays)


# ---------------------------------------------------------------------------------------------
# The pose-prior tool


@dataclass(frozen=True)
class MocapPrior:
    """What ``fit_prior_from_mocap`` made.

    Attributes:
        path: the ``gmm_08.pkl``-layout file written.
        gmm: the fitted mixture.
        num_poses: N, the body poses it was fitted to.
        pose_layout: which array and layout the poses were read from, e.g. ``"poses (N, 72)"``.
    """

    path: Path
    gmm: GMMPrior
    num_poses: int
    pose_layout: str


def _body_poses_from_npz(path: Path) -> tuple[np.ndarray, str]:
    """(N, 69) body poses and a description of their source array.

    ``poses (N, 72)``: SMPL's full pose, the first 3 values (global orientation) dropped.
    ``poses (N, 156)``: AMASS's SMPL+H pose; SMPL body joints 1–21 are values 3–66, and SMPL's two
    hand joints (22, 23), which SMPL+H replaces by finger joints, are set to zero.
    ``body_pose (N, 69)`` (or ``(N, 23, 3)``): used as is. Leading dimensions are flattened.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise InputError(f"{path} is not a readable .npz of poses ({err})") from None
    with archive:
        for key in ("body_pose", "poses"):
            if key not in archive.files:
                continue
            try:
                poses = np.asarray(archive[key], dtype=np.float64)
            except ValueError as err:
                raise InputError(f"{path}: array {key!r} is not a plain numeric array ({err})") from None
            break
        else:
            raise InputError(f"{path} has no 'poses' (N, 72) or 'body_pose' (N, 69) array; found "
                             f"{', '.join(archive.files) or 'no arrays'}")
    if key == "body_pose" and poses.shape[-2:] == (23, 3):
        poses = poses.reshape(*poses.shape[:-2], POSE_DIM)
    width = poses.shape[-1] if poses.ndim >= 2 else None
    if key == "body_pose" and width == POSE_DIM:
        return poses.reshape(-1, POSE_DIM), f"body_pose (N, {POSE_DIM})"
    if key == "poses" and width == 72:
        return poses.reshape(-1, 72)[:, 3:], "poses (N, 72), global orientation dropped"
    if key == "poses" and width == 156:
        body = np.zeros((poses.size // 156, POSE_DIM))
        body[:, :63] = poses.reshape(-1, 156)[:, 3:66]
        return body, "poses (N, 156) SMPL+H, hand joints set to zero"
    expected = "(N, 69)" if key == "body_pose" else "(N, 72) or AMASS (N, 156)"
    raise InputError(f"{path}: array {key!r} has shape {poses.shape}, expected {expected} axis-angle radians")


def fit_prior_from_mocap(poses_path: str | os.PathLike, out_path: str | os.PathLike,
                         n_components: int = 8, seed: int = 0, max_iter: int = 100,
                         reg_covar: float = 1e-4) -> MocapPrior:
    """Fit a GMM pose prior to mocap poses and write it in the ``gmm_08.pkl`` layout.

    This is how the mannequin's own prior is made (``mannequin.gmm_prior_path``), offered for a
    user's own motion capture. Rows with NaN or infinite values are dropped.

    Args:
        poses_path: an ``.npz`` (read with ``allow_pickle=False``) holding ``poses (N, 72)``
            (SMPL's full pose, axis-angle radians; the global orientation is dropped), AMASS's
            ``poses (N, 156)`` (SMPL+H: the 21 shared body joints are kept, SMPL's two hand joints
            set to zero) or ``body_pose (N, 69)``.
        out_path: the ``.pkl`` to write (atomically), e.g. ``gmm_08.pkl``.
        n_components: K (``gmm_08.pkl`` has 8).
        seed, max_iter, reg_covar: as for ``fit_gmm``.

    Returns:
        ``MocapPrior`` with the path written, the mixture and the number of poses used.
    """
    poses_path = Path(poses_path)
    if not poses_path.is_file():
        raise MissingFileError(f"mocap poses file not found: {poses_path}; give an .npz with 'poses' (N, 72) "
                               "or 'body_pose' (N, 69)")
    poses, layout = _body_poses_from_npz(poses_path)
    poses = poses[np.isfinite(poses).all(axis=1)]
    if len(poses) < max(2 * int(n_components), 2):
        raise InputError(f"{poses_path}: {len(poses)} finite poses are too few for a {n_components}-component "
                         f"prior; give at least {max(2 * int(n_components), 2)}")
    gmm = fit_gmm(poses, n_components=n_components, seed=seed, max_iter=max_iter, reg_covar=reg_covar)
    return MocapPrior(path=save_gmm(out_path, gmm), gmm=gmm, num_poses=len(poses), pose_layout=layout)


# ---------------------------------------------------------------------------------------------
# The max-mixture prior


class MaxMixturePrior(nn.Module):
    """SMPLify's max-mixture GMM pose prior (SMPLify-X ``MaxMixturePrior``, ``use_merged=True``).

    For each pose θ (D = 69 values) and each component m:

        nll_m(θ) = ½ (θ − μ_m)ᵀ Λ_m (θ − μ_m) − ln w̃_m,
        w̃_m = w_m / (c · √det Σ_m / min_k √det Σ_k),  c = (2π)^(D/2),

    and the prior is min_m nll_m(θ). As in SMPLify-X, the precisions Λ_m are the inverses of the
    covariances taken in float32. ln w̃_m is computed in float64 from log-determinants and stored
    in float32; SMPLify-X stores w̃_m itself in float32 and takes the log afterwards, which loses
    precision (or gives −∞) when w̃_m falls below float32's normal range (about e^−87), so only
    there the two differ.

    Buffers (``.to()`` moves and casts them): ``means`` (K, D), ``precisions`` (K, D, D),
    ``log_nll_weights`` (K,).

    Args:
        gmm: the mixture, e.g. from ``load_gmm``.
    """

    def __init__(self, gmm: GMMPrior) -> None:
        super().__init__()
        if not isinstance(gmm, GMMPrior):
            raise InputError(f"MaxMixturePrior expects a GMMPrior, got {type(gmm).__name__}")
        precisions = np.linalg.inv(gmm.covars.astype(np.float32))
        log_dets = np.linalg.slogdet(gmm.covars)[1]  # (K,) ln det Σ_m
        log_nll_weights = (np.log(gmm.weights) - 0.5 * gmm.dim * np.log(2.0 * np.pi)
                           - 0.5 * (log_dets - log_dets.min()))
        self.register_buffer("means", torch.tensor(gmm.means, dtype=torch.float32))
        self.register_buffer("precisions", torch.tensor(precisions, dtype=torch.float32))
        self.register_buffer("log_nll_weights", torch.tensor(log_nll_weights, dtype=torch.float32))

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def extra_repr(self) -> str:
        return f"num_components={self.num_components}, dim={self.dim}"

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of the best-fitting component.

        Args:
            body_pose: (B, 69) axis-angle body poses, radians (any leading dims: (..., 69)).

        Returns:
            (B,) the prior (dimensionless, lower is more likely), in the input's dtype.
        """
        if not isinstance(body_pose, torch.Tensor) or body_pose.ndim < 1 or body_pose.shape[-1] != self.dim:
            shape = tuple(body_pose.shape) if isinstance(body_pose, torch.Tensor) else type(body_pose).__name__
            raise InputError(f"MaxMixturePrior expects body_pose of shape (B, {self.dim}), got {shape}")
        dtype = body_pose.dtype
        diff = body_pose.unsqueeze(-2) - self.means.to(dtype)  # (..., K, D)
        precision_diff = torch.einsum("kij,...kj->...ki", self.precisions.to(dtype), diff)
        quadratic = (precision_diff * diff).sum(dim=-1)  # (..., K)
        nll = 0.5 * quadratic - self.log_nll_weights.to(dtype)
        return nll.min(dim=-1).values
