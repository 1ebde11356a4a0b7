"""Airflow DAG file: one DAG per pipeline YAML in pipelines/ (see dag_factory.airflow.generate)."""

from dag_factory.airflow import generate_dags

generate_dags(globals())
