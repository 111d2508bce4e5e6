import numpy as np
import pytest
import torch

from body_models.errors import InputError
from body_models.meshes import load_obj, save_obj, save_obj_sequence


def test_obj_round_trip_keeps_vertex_order(mannequin_smpl, tmp_path):
    out = mannequin_smpl(body_pose=0.2 * torch.randn(1, 69))
    vertices = out.vertices[0].numpy()
    path = save_obj(tmp_path / "body.obj", vertices, mannequin_smpl.faces, header="body model: mannequin")
    mesh = load_obj(path)
    assert mesh.vertices.shape == (6890, 3)
    np.testing.assert_allclose(mesh.vertices, vertices, atol=1e-7)
    np.testing.assert_array_equal(mesh.faces, mannequin_smpl.faces)
    assert path.read_text().startswith("# body model: mannequin")
    assert not list(tmp_path.glob(".*tmp*")), "no temporary files are left behind"


def test_sequence_names_are_zero_padded(tmp_path):
    v = np.random.default_rng(0).normal(size=(3, 5, 3))
    f = np.array([[0, 1, 2], [2, 3, 4]])
    paths = save_obj_sequence(tmp_path / "meshes", torch.as_tensor(v), f, frame_indices=[7, 8, 120])
    assert [p.name for p in paths] == ["000007.obj", "000008.obj", "000120.obj"]
    np.testing.assert_allclose(load_obj(paths[2]).vertices, v[2], atol=1e-7)


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"\(V, 3\)"):
        save_obj(tmp_path / "x.obj", np.zeros((4, 2)), np.zeros((1, 3), int))
    with pytest.raises(InputError, match="NaN"):
        save_obj(tmp_path / "x.obj", np.full((3, 3), np.nan), np.array([[0, 1, 2]]))
    assert not (tmp_path / "x.obj").exists()


def test_obj_files_are_byte_for_byte_trimeshs_export(mannequin_smpl, tmp_path):
    """Our writer formats the faces once per sequence; the files stay exactly trimesh's OBJ."""
    import trimesh
    import trimesh.exchange.obj

    rng = np.random.default_rng(2)
    vertices = rng.normal(0, 0.5, (2, 6890, 3)).astype(np.float32)
    vertices[0, 0] = [-0.0, 1e-9, -123.456789]  # signs, tiny and large values
    paths = save_obj_sequence(tmp_path, vertices, mannequin_smpl.faces, header="body model: mannequin")
    single = save_obj(tmp_path / "one.obj", vertices[1], mannequin_smpl.faces)
    for v, path, header in ((vertices[0], paths[0], "body model: mannequin"), (vertices[1], paths[1],
                                                                                 "body model: mannequin"),
                            (vertices[1], single, "hmr-video")):
        mesh = trimesh.Trimesh(vertices=v.astype(np.float64), faces=mannequin_smpl.faces, process=False)
        expected = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_color=False,
                                                   include_texture=False, header=header)
        assert path.read_text() == expected
