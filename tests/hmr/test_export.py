"""Animation exports read back by independent readers: BVH (the ``bvh`` package), glb
(pygltflib, with the skinning evaluated here) and AMASS npz (through the SMPL layer)."""

import dataclasses

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from body_models.atomic import save_npz
from body_models.errors import InputError
from hmr.io.motion import load_motion, rest_body

T, P = 6, 2


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mannequin_smpl):
    """A run folder holding an smpl.npz of two people in the camera frame (person 7 misses a frame)."""
    rng = np.random.default_rng(3)
    folder = tmp_path_factory.mktemp("run")
    orient = np.tile(np.array([np.pi, 0.0, 0.0]), (T, P, 1)) + rng.normal(0, 0.3, (T, P, 3))
    body_pose = rng.normal(0, 0.35, (T, P, 69))
    transl = np.array([0.2, -0.1, 4.0]) + rng.normal(0, 0.05, (T, P, 3))
    betas = np.tile(rng.normal(0, 0.8, (1, P, 10)), (T, 1, 1))
    valid = np.ones((T, P), bool)
    valid[2, 1] = False
    save_npz(folder / "smpl.npz", global_orient=orient.astype(np.float32), body_pose=body_pose.astype(np.float32),
             transl=transl.astype(np.float32), betas=betas.astype(np.float32), valid=valid,
             track_ids=np.array([3, 7]), fps=np.float64(25.0), frame_indices=np.arange(T) + 10,
             body_model=np.array("mannequin"))
    return folder


def test_load_motion_fills_missing_frames_and_picks_a_person(run_dir):
    motion = load_motion(run_dir, person=7)
    assert motion.num_frames == T and motion.track_id == 7 and motion.frame == "camera"
    assert motion.filled.tolist() == [False, False, True, False, False, False]
    assert np.allclose(motion.body_pose[2], motion.body_pose[1]) or np.allclose(motion.body_pose[2], motion.body_pose[3])
    assert load_motion(run_dir).track_id == 3  # the person fitted in most frames
    with pytest.raises(InputError, match="track IDs are 3, 7"):
        load_motion(run_dir, person=5)


def test_to_up_moves_the_body_rigidly(run_dir, mannequin_smpl):
    motion = load_motion(run_dir, person=3)
    camera = motion.smpl_output(mannequin_smpl).joints.numpy()
    y_up = motion.to_up("y", mannequin_smpl).smpl_output(mannequin_smpl).joints.numpy()
    z_up = motion.to_up("z", mannequin_smpl).smpl_output(mannequin_smpl).joints.numpy()
    assert np.allclose(y_up, camera * [1, -1, -1], atol=1e-5)
    assert np.allclose(z_up, np.stack([camera[..., 0], camera[..., 2], -camera[..., 1]], -1), atol=1e-5)


def _bvh_forward_kinematics(path):
    """(T, J, 3) joint positions and names from a BVH, read by the ``bvh`` package."""
    from bvh import Bvh

    mocap = Bvh(path.read_text())
    names = mocap.get_joints_names()
    positions = np.zeros((mocap.nframes, len(names), 3))
    for t in range(mocap.nframes):
        world_rot, world_pos = {}, {}
        for name in names:
            channels = mocap.joint_channels(name)
            rotation_channels = [c for c in channels if c.endswith("rotation")]
            angles = mocap.frame_joint_channels(t, name, rotation_channels)
            local = Rotation.from_euler("".join(c[0] for c in rotation_channels), angles, degrees=True).as_matrix()
            offset = np.array(mocap.joint_offset(name), float)
            parent_index = mocap.joint_parent_index(name)
            if parent_index < 0:
                pos = offset + np.array(mocap.frame_joint_channels(t, name, ["Xposition", "Yposition", "Zposition"]))
                world_rot[name], world_pos[name] = local, pos
            else:
                parent = names[parent_index]
                world_pos[name] = world_pos[parent] + world_rot[parent] @ offset
                world_rot[name] = world_rot[parent] @ local
            positions[t, names.index(name)] = world_pos[name]
    return positions, names, mocap


@pytest.mark.parametrize("up", ["y", "z"])
def test_bvh_round_trip_gives_the_smpl_joints(run_dir, mannequin_smpl, tmp_path, up):
    from body_models.joints import SMPL_24
    from hmr.io.export_bvh import write_bvh

    motion = load_motion(run_dir, person=7).to_up(up, mannequin_smpl)
    path = write_bvh(motion, rest_body(mannequin_smpl, motion.betas), tmp_path / "m.bvh")
    positions, names, mocap = _bvh_forward_kinematics(path)
    expected = motion.smpl_output(mannequin_smpl).joints.numpy()
    order = [names.index(n) for n in SMPL_24.names]
    assert mocap.nframes == T and mocap.frame_time == pytest.approx(1 / 25)
    assert np.abs(positions[:, order] - expected).max() < 1e-3  # metres: within 1 mm on every frame
    # the offsets are the fitted shape's bones: the left knee sits where SMPL's rest skeleton puts it
    rest = rest_body(mannequin_smpl, motion.betas)
    basis = np.eye(3) if up == "y" else np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    assert np.allclose(mocap.joint_offset("left_knee"), basis @ (rest.joints[4] - rest.joints[1]), atol=1e-6)


def _accessor(gltf, blob, index):
    """An accessor's data as a numpy array (count, components)."""
    import pygltflib as g

    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {g.FLOAT: np.float32, g.UNSIGNED_INT: np.uint32, g.UNSIGNED_SHORT: np.uint16,
             g.UNSIGNED_BYTE: np.uint8}[acc.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    return np.frombuffer(blob, dtype, acc.count * width, start).reshape(acc.count, width).astype(np.float64)


def _evaluate_glb(path, frame):
    """Vertices (V, 3) and joint positions (J, 3) of a skinned glb at keyframe ``frame``: morph
    targets, then linear blend skinning with the joint matrices (node world · inverse bind)."""
    import pygltflib as g

    gltf = g.GLTF2().load(str(path))
    blob = gltf.binary_blob()
    local = {i: (np.array(n.translation or [0, 0, 0], float), np.array(n.rotation or [0, 0, 0, 1], float))
             for i, n in enumerate(gltf.nodes)}
    weights = np.array(gltf.meshes[0].weights, float)
    anim = gltf.animations[0]
    for ch in anim.channels:
        sampler = anim.samplers[ch.sampler]
        values = _accessor(gltf, blob, sampler.output)
        node = ch.target.node
        if ch.target.path == "weights":
            weights = values.reshape(-1, len(weights))[frame]
        elif ch.target.path == "translation":
            local[node] = (values[frame], local[node][1])
        elif ch.target.path == "rotation":
            local[node] = (local[node][0], values[frame])
    world = {}

    def visit(i, parent):
        m = np.eye(4)
        m[:3, :3] = Rotation.from_quat(local[i][1]).as_matrix()
        m[:3, 3] = local[i][0]
        world[i] = parent @ m
        for c in gltf.nodes[i].children or []:
            visit(c, world[i])

    for root in gltf.scenes[gltf.scene].nodes:
        visit(root, np.eye(4))
    prim = gltf.meshes[0].primitives[0]
    skin = gltf.skins[0]
    inverse_bind = _accessor(gltf, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joint_mats = np.stack([world[j] @ ib for j, ib in zip(skin.joints, inverse_bind)])
    positions = _accessor(gltf, blob, prim.attributes.POSITION)
    for w, target in zip(weights, prim.targets):
        positions = positions + w * _accessor(gltf, blob, target["POSITION"])
    homogeneous = np.concatenate([positions, np.ones((len(positions), 1))], 1)
    vertices = np.zeros_like(positions)
    n = 0
    while getattr(prim.attributes, f"JOINTS_{n}", None) is not None:
        joints = _accessor(gltf, blob, getattr(prim.attributes, f"JOINTS_{n}")).astype(int)
        influence = _accessor(gltf, blob, getattr(prim.attributes, f"WEIGHTS_{n}"))
        for k in range(4):
            moved = np.einsum("vij,vj->vi", joint_mats[joints[:, k]], homogeneous)[:, :3]
            vertices += influence[:, k:k + 1] * moved
        n += 1
    joint_positions = np.stack([world[j][:3, 3] for j in skin.joints])
    return vertices, joint_positions, gltf


def test_glb_round_trip_gives_the_smpl_vertices_and_joints(run_dir, mannequin_smpl, tmp_path):
    from hmr.io.export_gltf import write_glb

    motion = load_motion(run_dir, person=7).to_up("y", mannequin_smpl)
    path = write_glb(motion, mannequin_smpl, tmp_path / "m.glb")
    expected = motion.smpl_output(mannequin_smpl)
    for frame in (0, 2, T - 1):
        vertices, joints, gltf = _evaluate_glb(path, frame)
        assert np.abs(vertices - expected.vertices[frame].numpy()).max() < 1e-3  # metres
        assert np.abs(joints - expected.joints[frame].numpy()).max() < 1e-3
    assert "mannequin" in gltf.asset.extras["body_model"] and "not SMPL" in gltf.asset.extras["body_model"]
    assert gltf.asset.extras["fps"] == 25.0 and "camera frame" in gltf.asset.extras["frame"]
    import trimesh

    scene = trimesh.load(path)  # a second reader opens it
    assert sum(len(m.vertices) for m in scene.geometry.values()) == expected.vertices.shape[1]


def test_amass_npz_through_the_smpl_layer_gives_the_same_joints(run_dir, mannequin_smpl, tmp_path):
    from hmr.io.export_amass import write_amass

    motion = load_motion(run_dir, person=3).to_up("z", mannequin_smpl)
    path = write_amass(motion, tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as z:
        amass = dict(z)
    n = amass["poses"].shape[0]
    with torch.no_grad():
        body = mannequin_smpl(betas=torch.as_tensor(np.tile(amass["betas"], (n, 1))),
                              global_orient=torch.as_tensor(amass["poses"][:, :3]),
                              body_pose=torch.as_tensor(amass["poses"][:, 3:]), transl=torch.as_tensor(amass["trans"]))
    expected = motion.smpl_output(mannequin_smpl).joints.numpy()
    assert np.abs(body.joints.numpy() - expected).max() < 1e-4
    assert amass["mocap_framerate"] == 25.0 and str(amass["gender"]) == "neutral"
    assert str(amass["body_model"]) == "mannequin" and str(amass["up"]) == "z"


def _keypoints_file(path, smpl, frames=4):
    """A keypoints2d.npz of the mannequin standing 4 m in front of a 320x240 camera (f = 400 px),
    jumping 10 cm sideways every frame."""
    from hmr.pose2d.keypoints_io import empty_keypoints, save_keypoints2d

    kp = empty_keypoints(frames, 1)
    with torch.no_grad():
        body = smpl(global_orient=torch.tensor([[np.pi, 0.0, 0.0]]).repeat(frames, 1),
                    body_pose=torch.zeros(frames, 69), transl=torch.tensor([[0.0, 0.0, 4.0]]) + 0.05 * torch.tensor([[(-1.0) ** t, 0, 0] for t in range(frames)]))
    joints = body.joint_set("coco_17").numpy()
    kp.keypoints[..., 0, :, :2] = 400 * joints[..., :2] / joints[..., 2:] + [160, 120]
    kp.keypoints[..., 0, :, 2] = 0.9
    kp.boxes[:, 0] = np.concatenate([kp.keypoints[:, 0, :, :2].min(1), kp.keypoints[:, 0, :, :2].max(1)], -1)
    kp.valid[:] = True
    return save_keypoints2d(path, dataclasses.replace(kp, image_size=(320, 240), fps=25.0, frame_indices=np.arange(frames)))


def test_run_export_and_hmr_export_write_the_files(tmp_path, capsys, mannequin_smpl):
    from bvh import Bvh

    from hmr.cli import main

    out = tmp_path / "run"
    source = _keypoints_file(tmp_path / "kp.npz", mannequin_smpl)
    assert main(["run", str(source), "--out", str(out), "--iterations", "2", "--quiet", "--no-overlay",
                 "--no-meshes", "--export", "bvh,amass", "--smooth", "temporal"]) == 0
    with np.load(out / "smpl.npz") as smoothed, np.load(out / "smpl_unsmoothed.npz") as raw:
        assert str(smoothed["smoothing"]) == "temporal" and not np.allclose(smoothed["transl"], raw["transl"])
    assert Bvh((out / "export" / "person_0.bvh").read_text()).nframes == 4
    with np.load(out / "export" / "person_0_amass.npz", allow_pickle=False) as z:
        assert z["poses"].shape == (4, 72) and str(z["body_model"]) == "mannequin"
    assert main(["export", str(out), "--format", "glb", "--person", "0", "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "person_0.glb").stat().st_size > 0
    capsys.readouterr()
    for argv, words in ((["export", str(out), "--format", "fbx"], ("fbx", "bvh, glb, amass")),
                        (["export", str(tmp_path / "x"), "--format", "bvh"], ("smpl.npz", "hmr run")),
                        (["export", str(out), "--person", "4"], ("track IDs are 0",)),
                        (["export", str(out), "--up", "x"], ("up axis",)),
                        (["run", str(source), "--out", str(out), "--export", "obj"], ("obj", "bvh")),
                        (["run", str(source), "--out", str(out), "--smooth", "kalman"], ("kalman", "one-euro"))):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and all(w in err for w in words), err
