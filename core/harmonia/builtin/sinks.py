"""Built-in output sinks: CSV and Parquet files."""
