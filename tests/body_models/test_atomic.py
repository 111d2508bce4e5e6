import os
import stat

import numpy as np
import pytest

from body_models.atomic import atomic_path, save_npz, write_json


def test_files_appear_whole_with_the_usual_permissions(tmp_path):
    path = write_json(tmp_path / "a" / "run.json", {"x": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text().strip().startswith("{")


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = save_npz(tmp_path / "x.npz", a=np.arange(3))
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("interrupted")
    np.testing.assert_array_equal(np.load(path)["a"], np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]
    with pytest.raises(TypeError, match="object"):
        save_npz(tmp_path / "y.npz", a=np.array([{"b": 1}], dtype=object))


def test_json_keeps_objects_indented_and_arrays_on_one_line(tmp_path):
    import json

    record = {"joints": np.arange(12.0).reshape(2, 2, 3).tolist(), "missing": [None, 1.5],
              "people": [{"id": 1, "box": [0, 1, 2, 3]}, {"id": 2, "box": [], "extra": {}}],
              "units": {"joints": "metres"}, "empty": [], 7: "key made a string"}
    text = write_json(tmp_path / "r.json", record).read_text()
    assert json.loads(text) == json.loads(json.dumps(record))  # the same value as json writes
    lines = text.splitlines()
    assert '  "joints": [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]],' in lines
    assert '      "box": [0, 1, 2, 3]' in lines and '  "units": {' in lines and '    "joints": "metres"' in lines
    assert text.endswith("}\n") and len(lines) == 20
