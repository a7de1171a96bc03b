"""Making a run: the pipeline, its rounds, teacher loading, the quality loop, replay, output, instruction methods."""
