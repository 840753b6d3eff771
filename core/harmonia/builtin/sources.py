"""Built-in data sources: canonical CSV and Parquet files."""
