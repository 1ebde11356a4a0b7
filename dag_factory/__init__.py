"""dag_factory: YAML pipelines -> Airflow DAGs for warehouse loads.

Layers import downward only: config <- engine <- airflow <- cli.
"""

__version__ = "0.1.0"
