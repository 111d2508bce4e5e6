"""Files in and out: video and image-folder decoding and H.264 encoding (``video``), mesh rendering
over frames (``render``), skeleton drawing (``skeletons``), and motion files for animation tools:
BVH, skinned glTF binary and AMASS-style npz (``export``)."""
