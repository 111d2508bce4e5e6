import numpy as np
import torch

from body_models import mannequin
from body_models.motion import generate_motion
from body_models.priors import MaxMixturePrior, load_gmm


def test_prior_file_has_the_gmm_08_layout_and_prefers_plausible_poses():
    path = mannequin.gmm_prior_path()
    assert path.name.startswith("gmm_08") and path.suffix == ".pkl"
    gmm = load_gmm(path)
    assert gmm.means.shape == (8, 69) and gmm.covars.shape == (8, 69, 69) and gmm.weights.shape == (8,)
    np.testing.assert_allclose(gmm.weights.sum(), 1.0, rtol=1e-6)
    prior = MaxMixturePrior(gmm)
    # held-out motion (a seed the prior's poses did not use) against uniformly random joint angles
    plausible = torch.as_tensor(generate_motion("squat", 30, seed=12345).body_pose)
    random = torch.as_tensor(np.random.default_rng(0).uniform(-1.5, 1.5, size=(30, 69)), dtype=torch.float32)
    assert prior(plausible).median() < prior(random).median()
    assert mannequin.gmm_prior_path() == path  # cached, not refitted

