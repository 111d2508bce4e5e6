from dataclasses import dataclass

import pytest

from body_models.configs import config_from_dict, config_from_yaml
from body_models.errors import InputError, MissingFileError


@dataclass(frozen=True)
class _Config:
    widths: tuple = (3, 3)
    channels: int = 8


def test_yaml_preset_becomes_the_dataclass(tmp_path):
    path = tmp_path / "preset.yaml"
    path.write_text("widths: [3, 3, 3]\nchannels: 16\n")
    assert config_from_yaml(_Config, path) == _Config(widths=(3, 3, 3), channels=16)
    (tmp_path / "empty.yaml").write_text("")
    assert config_from_yaml(_Config, tmp_path / "empty.yaml") == _Config()


def test_unknown_key_missing_file_and_bad_yaml_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="unknown _Config key 'chanels'"):
        config_from_dict(_Config, {"chanels": 4})
    with pytest.raises(MissingFileError, match="nope.yaml"):
        config_from_yaml(_Config, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("widths: [3, 3\n")
    with pytest.raises(InputError, match="not valid YAML") as err:
        config_from_yaml(_Config, bad)
    assert "\n" not in str(err.value)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="expected a mapping"):
        config_from_yaml(_Config, bad)
