"""Batch engine: pure functions over pyarrow RecordBatches, run locally or on Spark."""
