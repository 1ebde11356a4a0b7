"""Alerts: Slack (providers-slack webhook notifier), Microsoft Teams (Workflows
webhook over HTTP) and e-mail (providers-smtp notifier), plus deadline alerts.

The YAML only names connection ids and addresses. Webhook URLs live in the
connections' password fields (masked in Airflow's logs) and never appear in a
payload or a log line written here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from airflow.sdk import BaseNotifier

from dag_factory.airflow.error_text import located_text
from dag_factory.config.model import AlertChannel

log = logging.getLogger(__name__)
EVENTS = {"failure": "failed", "success": "succeeded", "deadline": "missed its deadline"}


def _interval(context: Any) -> tuple[str, str]:
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    return (start.isoformat() if start else "latest complete interval", end.isoformat() if end else "")


def _rows_loaded(context: Any) -> int | None:
    ti = context.get("ti")
    try:
        result = ti.xcom_pull(task_ids="load.publish") if ti is not None else None
    except Exception:  # broad: XCom is a nicety in an alert, and any failure must not hide the alert itself
        log.warning("dag_factory: rows loaded unknown for the alert (XCom lookup failed)", exc_info=True)
        return None
    return result.get("inserted") if isinstance(result, dict) else None


def build_payload(context: Any, pipeline: str, event: str) -> dict[str, Any]:
    """The facts every channel shows: what, which run, which interval, rows, where the log is."""
    ti = context.get("ti")
    dag_run = context.get("dag_run")
    start, end = _interval(context)
    exc = context.get("exception")
    payload = {
        "pipeline": pipeline,
        "dag_id": getattr(dag_run, "dag_id", None) or pipeline,
        "run_id": getattr(dag_run, "run_id", None),
        "event": event,
        "summary": f"Pipeline {pipeline} {EVENTS.get(event, event)}",
        "interval_start": start,
        "interval_end": end,
        "task_id": getattr(ti, "task_id", None),
        "rows_loaded": _rows_loaded(context),
        "log_url": getattr(ti, "log_url", None),
        "error": (f"{type(exc).__name__}: {located_text(exc)}"[:1500] if exc else None),
    }
    return payload


def _text(payload: dict[str, Any]) -> str:
    lines = [
        f"*{payload['summary']}*",
        f"run `{payload['run_id']}`, interval {payload['interval_start']} -> {payload['interval_end']}",
    ]
    if payload["rows_loaded"] is not None:
        lines.append(f"rows loaded: {payload['rows_loaded']}")
    if payload["task_id"]:
        lines.append(f"task: {payload['task_id']}")
    if payload["error"]:
        lines.append(f"error: {payload['error']}")
    if payload["log_url"]:
        lines.append(f"log: {payload['log_url']}")
    return "\n".join(lines)


def teams_card(payload: dict[str, Any]) -> dict[str, Any]:
    """A Teams Workflows webhook message: one Adaptive Card with the run's facts."""
    facts = [
        {"title": "DAG", "value": str(payload["dag_id"])},
        {"title": "Run", "value": str(payload["run_id"])},
        {"title": "Interval", "value": f"{payload['interval_start']} -> {payload['interval_end']}"},
        {"title": "Rows loaded", "value": str(payload["rows_loaded"])},
    ]
    if payload["error"]:
        facts.append({"title": "Error", "value": payload["error"]})
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": payload["summary"], "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    card: dict[str, Any] = {"type": "AdaptiveCard", "version": "1.4", "body": body}
    if payload["log_url"]:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open log", "url": payload["log_url"]}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def send(channel: AlertChannel, payload: dict[str, Any], context: Any) -> None:
    """Deliver one alert; raises on delivery errors (the caller logs and goes on)."""
    if channel.kind != "email" and not channel.conn_id:  # the schema requires it; a hand-built channel may not
        raise ValueError(f"a {channel.kind} alert channel needs a conn_id")
    if channel.kind == "slack":
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        SlackWebhookNotifier(slack_webhook_conn_id=str(channel.conn_id), text=_text(payload)).notify(context)
    elif channel.kind == "teams":
        import requests
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(str(channel.conn_id))
        url = conn.password or conn.host
        if not url or "://" not in url:
            raise ValueError(f"Teams connection {channel.conn_id!r} needs the webhook URL in its password field")
        requests.post(url, json=teams_card(payload), timeout=15).raise_for_status()
    elif channel.kind == "email":
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        html = "<br>".join(_text(payload).replace("*", "").splitlines())
        SmtpNotifier(
            to=list(channel.addresses), subject=payload["summary"], html_content=html, from_email="dag-factory@localhost"
        ).notify(context)


def deliver(channels: tuple[AlertChannel, ...], payload: dict[str, Any], context: Any) -> list[str]:
    """Send to every channel; one broken channel does not stop the others."""
    failed = []
    for channel in channels:
        try:
            send(channel, payload, context)
        except Exception as exc:
            # broad: each channel's library (Slack SDK, requests, smtplib, Airflow's connection lookup)
            # raises its own types, and one broken channel must not stop the others. No traceback:
            # its messages can carry the webhook URL, which is the secret; the type and channel say what failed.
            target = channel.conn_id or ",".join(channel.addresses)
            failed.append(f"{channel.kind}:{target}")
            log.error("dag_factory: %s alert via %s %s failed: %s", payload["event"], channel.kind, target, type(exc).__name__)
    return failed


class PipelineNotifier(BaseNotifier):
    """Task callback that sends a pipeline's failure or success alert to its channels."""

    template_fields = ()

    def __init__(self, pipeline: str, event: str, channels: tuple[AlertChannel, ...]) -> None:
        super().__init__()
        self.pipeline, self.event, self.channels = pipeline, event, channels

    def notify(self, context: Any) -> None:
        deliver(self.channels, build_payload(context, self.pipeline, self.event), context)


async def deadline_missed(context: Any = None, **kwargs: Any) -> None:
    """Deadline Alert callback (runs in the triggerer): the on_failure channels hear about it."""
    channels = tuple(AlertChannel(**c) if isinstance(c, dict) else c for c in kwargs.get("channels", []))
    payload = build_payload(context or {}, kwargs.get("pipeline", "?"), "deadline")
    payload["summary"] += f" ({kwargs.get('deadline', '')} after it was queued)"
    await asyncio.to_thread(deliver, channels, payload, context or {})
