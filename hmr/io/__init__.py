"""Motion files for animation tools: BVH, skinned glTF binary and AMASS-style npz."""
