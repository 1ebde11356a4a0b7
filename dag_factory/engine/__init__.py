"""Engine: moves data (source -> lake -> warehouse). Never imports Airflow."""
