"""Shared test set-up: a private cache folder, so tests never read or write the user's cache."""

import os

import pytest


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
