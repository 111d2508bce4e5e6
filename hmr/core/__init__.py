"""Helpers every stage and the pipeline share, with no stage of their own: ImageNet input
normalisation, fast inference paths, run records, the user's weight files, stand-in notices, camera
intrinsics and cross-checks of the inputs. Nothing here imports the pipeline or the command layer;
this ``__init__`` imports nothing, so ``hmr --help`` stays free of torch."""
