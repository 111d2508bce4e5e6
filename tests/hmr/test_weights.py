import hashlib

import pytest

from body_models.errors import InputError, MissingFileError
from hmr.cli import main
from hmr.core.weights import KNOWN_FILES, check_all, require, resolve


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for f in KNOWN_FILES:
        monkeypatch.delenv(f.env_var, raising=False)
    monkeypatch.delenv("HMR_DATA_DIR", raising=False)
    monkeypatch.setenv("HMR_CONFIG", str(tmp_path / "no-config.yaml"))


def test_every_official_file_is_listed_with_its_terms():
    keys = {f.key for f in KNOWN_FILES}
    assert {"hrnet_w32", "hrnet_w48", "vp3d_coco", "vp3d_cpn", "spin", "spin_mean_params", "j_regressor_h36m",
            "j_regressor_extra", "gmm_08", "smpl_neutral", "smpl_male", "smpl_female"} <= keys
    assert all(f.publisher and f.licence and f.source for f in KNOWN_FILES)


def test_resolution_order_flag_env_config_datadir(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "gmm_08.pkl").write_bytes(b"prior")
    assert resolve("gmm_08", data_dir=data).configured_by.startswith("data dir")
    config = tmp_path / "config.yaml"
    config.write_text(f"weights:\n  gmm_08: {tmp_path / 'cfg.pkl'}\n")
    assert resolve("gmm_08", config=config, data_dir=data).configured_by.startswith("config")
    monkeypatch.setenv("HMR_WEIGHTS_GMM_08", str(tmp_path / "env.pkl"))
    assert resolve("gmm_08", config=config).configured_by == "env HMR_WEIGHTS_GMM_08"
    assert resolve("gmm_08", explicit=tmp_path / "flag.pkl", config=config).configured_by == "flag"


def test_missing_file_error_says_what_and_where(tmp_path):
    with pytest.raises(MissingFileError) as err:
        require("spin")
    message = str(err.value)
    assert "model_checkpoint.pt" in message and "fetch_data.sh" in message and "HMR_WEIGHTS_SPIN" in message
    assert "\n" not in message
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights:\n  spn: x\n")
    with pytest.raises(InputError, match="unknown weights key 'spn'"):
        resolve("spin", config=bad)


def test_pinned_sums_are_verified(tmp_path, capsys):
    weights = tmp_path / "pose_hrnet_w32_256x192.pth"
    weights.write_bytes(b"not really weights")
    good = hashlib.sha256(weights.read_bytes()).hexdigest()
    config = tmp_path / "config.yaml"
    config.write_text(f"weights:\n  hrnet_w32: {{path: {weights}, sha256: {good}}}\n")
    status = {c.resolved.file.key: c.status for c in check_all(config=config)}
    assert status["hrnet_w32"] == "verified" and status["spin"] == "not configured"
    assert main(["weights", "--config", str(config)]) == 0
    assert "verified" in capsys.readouterr().out
    config.write_text(f"weights:\n  hrnet_w32: {{path: {weights}, sha256: '{'0' * 64}'}}\n")
    assert main(["weights", "--config", str(config)]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_unquoted_numeric_sum_is_refused(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("weights:\n  spin: {path: x.pt, sha256: 0123}\n")
    with pytest.raises(InputError, match="64 hex digits in quotes"):
        resolve("spin", config=config)
