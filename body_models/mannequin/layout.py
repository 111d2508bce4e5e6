"""The mannequin's arrays in SMPL's layout: their names and sizes (FORMATS §4)."""

from __future__ import annotations

from body_models.joints import SMPL_24

MODEL_NAME = "mannequin"
N_VERTS = 6890
N_FACES = 13776
N_BETAS = 10
N_POSE_BASIS = 9 * (len(SMPL_24) - 1)
MODEL_KEYS = ("v_template", "f", "J_regressor", "weights", "kintree_table", "shapedirs",
              "posedirs", "J", "model_name")
