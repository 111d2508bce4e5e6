"""Shared test set-up: a private cache folder, so tests never read or write the user's cache."""

import os

import pytest

# torch.compile (tests/hmr/test_fastpath.py, test_keypoints_stage.py): inductor's default on a
# many-core box is a pool of compile worker processes, each importing torch, which costs more than
# the tests' few small kernels take to build; one thread is ~5 s faster from a cold cache.
os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
# ... and before its first kernel it dry-compiles and loads a test program for each vector ISA the
# CPU's flags list (AVX512-VNNI, AVX512, AVX2: ~7 s from a cold cache), then picks the widest that
# built; trusting the flags picks that same ISA (checked on the 2-core CI-like box). A compiler
# that cannot build it fails the compile tests instead of falling back to a narrower one.
os.environ.setdefault("TORCHINDUCTOR_VEC_ISA_OK", "1")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    previous = os.environ.get("HMR_CACHE_DIR")
    os.environ["HMR_CACHE_DIR"] = str(tmp_path_factory.mktemp("hmr_cache"))
    yield
    if previous is None:
        os.environ.pop("HMR_CACHE_DIR", None)
    else:
        os.environ["HMR_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def mannequin_smpl():
    """The mannequin as an ``SMPL`` layer with its H36M and extra regressors."""
    from body_models.smpl import load_smpl

    return load_smpl("mannequin")


SMALL_WORLD_SIZE = (160, 128)


@pytest.fixture(scope="session")
def small_image_world(tmp_path_factory):
    """Four 160 × 128 images of the synthetic world (seed 3): three train, one val."""
    from hmr.synthetic import WorldConfig, make_synthetic_images

    root = tmp_path_factory.mktemp("world")
    make_synthetic_images(root, 4, seed=3, config=WorldConfig(image_size=SMALL_WORLD_SIZE, val_fraction=0.25))
    return root
