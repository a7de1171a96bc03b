"""The lowest layer: errors, the run store, row files, samples, documents, prompts, progress."""
