"""Config layer: YAML -> validated, typed Pipeline objects. Never imports Airflow."""
