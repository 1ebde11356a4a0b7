"""Warehouses: load an Arrow stream into a SQL table with the pipeline's load mode."""

from dag_factory.engine.warehouses.base import LoadResult, Warehouse

__all__ = ["LoadResult", "Warehouse"]
