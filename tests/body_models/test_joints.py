import numpy as np
import pytest

from body_models import joints as js


@pytest.mark.parametrize("joint_set", list(js.JOINT_SETS.values()), ids=lambda s: s.name)
def test_joint_set_is_a_tree_with_an_involutive_flip(joint_set):
    n = len(joint_set)
    assert len(joint_set.parents) == n and len(joint_set.flip_perm) == n
    perm = np.array(joint_set.flip_perm)
    assert sorted(perm) == list(range(n))
    assert (perm[perm] == np.arange(n)).all()
    for j, p in enumerate(joint_set.parents):
        assert -1 <= p < n and p != j
        # walking up from every joint reaches a root without cycles
        seen = set()
        while p >= 0:
            assert p not in seen
            seen.add(p)
            p = joint_set.parents[p]
    for i, name in enumerate(joint_set.names):
        mirror = joint_set.names[perm[i]]
        if name.startswith("left_"):
            assert mirror == "right_" + name[5:]


def test_published_tables():
    # VideoPose3D (FORMATS §2.6)
    assert js.H36M_17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert js.H36M_17.left == (4, 5, 6, 11, 12, 13) and js.H36M_17.right == (1, 2, 3, 14, 15, 16)
    # SPIN constants (FORMATS §3.7-3.8)
    assert js.SMPL_24.flip_perm == (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)
    assert js.SPIN_24.flip_perm == (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22)
    assert js.SPIN_49.flip_perm[:25] == (0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21)
    assert js.SPIN_49_FROM_SMPL_54 == (
        24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
        8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27)
    assert js.index_map(js.H36M_REGRESSOR_17, js.LSP_14) == (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
    assert js.index_map(js.H36M_REGRESSOR_17, js.SPIN_24, js.SPIN_EVAL_17) == (
        6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9)
    assert js.index_map(js.SPIN_24, js.SPIN_24, js.SPIN_EVAL_17) == (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17)
    perm = js.index_map(js.H36M_REGRESSOR_17, js.H36M_17)
    assert perm == (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
    assert tuple(np.array(perm)[list(perm)]) == tuple(range(17))  # its own inverse


def test_landmark_vertices_match_smplx():
    from smplx.vertex_ids import vertex_ids

    short = {"right_eye": "reye", "left_eye": "leye", "right_ear": "rear", "left_ear": "lear",
             "left_big_toe": "LBigToe", "left_small_toe": "LSmallToe", "left_heel": "LHeel",
             "right_big_toe": "RBigToe", "right_small_toe": "RSmallToe", "right_heel": "RHeel"}
    for name, vid in js.SMPL_LANDMARK_VERTICES.items():
        key = short.get(name, name.replace("left_", "l").replace("right_", "r"))
        assert vertex_ids["smplh"][key] == vid
    assert js.SMPL_45.names[24:] == tuple(js.SMPL_LANDMARK_VERTICES)  # smplx appends them in this order


def test_index_map_errors_name_the_joint():
    with pytest.raises(KeyError, match="lsp_14:neck"):
        js.index_map(js.COCO_17, js.LSP_14)
    with pytest.raises(KeyError, match="not in joint set"):
        js.index_map(js.SMPL_54, js.COCO_17, ["elbow"])


def test_map_moves_data_by_name():
    x = np.arange(len(js.SMPL_54))[:, None] * np.ones(3)
    coco = x[list(js.index_map(js.SMPL_54, js.COCO_17))]
    assert coco[js.COCO_17.index("left_wrist"), 0] == js.SMPL_54.index("left_wrist")
    assert coco[js.COCO_17.index("left_hip"), 0] == js.SMPL_54.index("left_hip_lsp")


def test_mpi_inf_3dhp_set_matches_the_official_tables():
    # joint_parents_o1 (1-based) from the test-set scripts, root = pelvis
    official = [2, 16, 2, 3, 4, 2, 6, 7, 15, 9, 10, 15, 12, 13, 15, 15, 2]
    expected = tuple(-1 if i == 14 else p - 1 for i, p in enumerate(official))
    assert js.MPI_INF_3DHP_17.parents == expected
    # SPIN evaluates 3DHP on its 17 slots: LSP joints, then head(h36m) <- head_top, pelvis, spine, jaw <- head
    assert js.index_map(js.MPI_INF_3DHP_17, js.SPIN_24, js.SPIN_EVAL_17) == (
        10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7, 1, 0, 14, 15, 16)
