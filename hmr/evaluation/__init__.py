"""Benchmark evaluation: Human3.6M (lifter and mesh), 3DPW and MPI-INF-3DHP from one harness.

One module per benchmark reads the files as published and states its protocol; ``runner``
streams the images through the model in batches and keeps one result file per sequence, so an
interrupted run resumes; ``report`` prints the table and writes ``results.json``, CSV and plots.

    from hmr.evaluation.runner import evaluate_benchmark
    report = evaluate_benchmark(benchmark="3dpw", data="data/3DPW", checkpoint="data/model_checkpoint.pt",
                                out_dir="eval_3dpw", body_model="data/smpl")
"""
