"""Benchmark evaluation: Human3.6M (lifter and mesh), 3DPW and MPI-INF-3DHP from one harness.

One module per benchmark (``h36m_lifter``, ``h36m_mesh``, ``pw3d``, ``mpi_inf_3dhp``, ``world``)
reads the files as published and states its protocol in the terms of ``types``; ``harness``
streams the images through the model in batches and keeps one result file per sequence, so an
interrupted run resumes, with ``smplify_setup`` as its optional refinement; ``scoring`` holds the
errors the adapters share; ``report`` prints the table and writes ``results.json``, CSV and plots.
The command layer (``hmr.commands.evaluate``) picks the adapter for a benchmark name:

    from hmr.commands.evaluate import evaluate_benchmark
    report = evaluate_benchmark(benchmark="3dpw", data="data/3DPW", checkpoint="data/model_checkpoint.pt",
                                out_dir="eval_3dpw", body_model="data/smpl")
"""
