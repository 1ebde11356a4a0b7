"""AWS access for the engine without Airflow: a boto3 session handed in from outside.

The engine never builds credentials from a connection's fields and never puts a
session into `ConnInfo.extra` (extra may be printed). Whoever calls the engine
passes an *AWS resolver*: a callable `ConnInfo -> AwsContext`.

- Under Airflow the resolver wraps the amazon provider's hook, so role assumption,
  profiles, web identity etc. behave exactly as for every other AWS operator::

      from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
      def aws(conn):
          hook = AwsBaseHook(aws_conn_id=conn.conn_id, client_type="s3")
          return AwsContext(session=hook.get_session(), endpoint_url=hook.conn_config.endpoint_url)

- Without one (`dag-factory run`, tests) `default_aws` uses boto3's default credential
  chain (environment, ~/.aws, instance role) with `region_name` / `endpoint_url` from
  the connection extra.

Connection extra keys read here (the same names the amazon provider uses):
`region_name`, `endpoint_url` (e.g. a moto server or a VPC endpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dag_factory.engine.connections import ConnInfo


@dataclass(frozen=True)
class AwsContext:
    """A boto3 session (credentials live inside it, never printed) and an optional endpoint."""

    session: Any = field(repr=False)  # boto3.session.Session
    endpoint_url: str | None = None  # None: the service's public AWS endpoint
    region_name: str | None = None  # None: the session's region

    def client(self, service: str) -> Any:
        kwargs: dict[str, Any] = {}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.region_name:
            kwargs["region_name"] = self.region_name
        if service == "s3":
            from botocore.config import Config

            # path-style works for every bucket name and for custom endpoints (moto, MinIO)
            kwargs["config"] = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"})
        return self.session.client(service, **kwargs)


AwsResolver = Callable[[ConnInfo], AwsContext]


def default_aws(conn: ConnInfo) -> AwsContext:
    """boto3's default credential chain; region and endpoint from the connection extra."""
    import boto3

    region = conn.extra.get("region_name") or None
    return AwsContext(
        session=boto3.session.Session(region_name=region),
        endpoint_url=conn.extra.get("endpoint_url") or None,
        region_name=region,
    )


def aws_for(conn: ConnInfo, resolver: AwsResolver | None) -> AwsContext:
    ctx = (resolver or default_aws)(conn)
    if ctx.endpoint_url is None and conn.extra.get("endpoint_url"):
        ctx = AwsContext(ctx.session, conn.extra["endpoint_url"], ctx.region_name)
    return ctx
