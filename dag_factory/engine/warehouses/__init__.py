"""Warehouses: load an Arrow stream or a lake partition into a target, by load mode.

base.Warehouse is the interface, capabilities.py what each one can do (no driver import),
types.py their Arrow <-> SQL type mappers, sql.py the logic the SQL warehouses share.
"""

from dag_factory.engine.warehouses.base import LoadResult, Warehouse
from dag_factory.engine.warehouses.capabilities import Capabilities, capabilities_for

__all__ = ["Capabilities", "LoadResult", "Warehouse", "capabilities_for"]
