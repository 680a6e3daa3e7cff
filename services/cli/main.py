"""The ``careloop`` command: run the service, post a message as a partner would, export contracts."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import structlog
import typer
from rich.console import Console

from services.api.access_tokens import ROLES, Caller, issue, secret_for
from services.cli.audit import audit_app
from services.cli.structured_logging import configure_logging
from services.settings import Settings

app = typer.Typer(help="careloop: the shared spine of an interdisciplinary care team.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(audit_app, name="audit")
out = Console(soft_wrap=True)
RUNTIME_FILE = "runtime.json"


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="Post the sample story once the service is up.")] = False,
    component: Annotated[
        list[str] | None,
        typer.Option(help="Run only these parts (ingest, relay, projector, api); default all."),
    ] = None,
) -> None:
    """Start careloop. Without NATS_URL it starts its own nats-server (embedded mode)."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    asyncio.run(_serve(settings, tuple(component or ()), demo))


async def _serve(settings: Settings, components: tuple[str, ...], demo: bool) -> None:
    from services.partners.demo import example, post_story
    from services.partners.demo_registry import with_registry
    from services.partners.registry import RegistryNotConfigured, load_partner_registry
    from services.runtime import COMPONENTS, Runtime

    unknown = set(components) - set(COMPONENTS)
    if unknown:
        raise typer.BadParameter(f"unknown component(s): {', '.join(sorted(unknown))}")
    runtime = Runtime(settings, components or COMPONENTS)
    try:
        runtime.settings = with_registry(settings)
        if "ingest" in runtime.components:
            load_partner_registry(runtime.settings)
    except RegistryNotConfigured as e:
        out.print(f"careloop will not start: {e}")
        raise typer.Exit(2) from e
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start()
    runtime_file = settings.data_dir / RUNTIME_FILE
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        runtime_file.write_text(json.dumps({"nats_url": runtime.nats_url, "http_url": runtime.http_url}))
        out.print(f"careloop is running ({settings.store} store). Stop with Ctrl-C.")
        out.print(f"  NATS: {runtime.nats_url}")
        if runtime.http_url:
            out.print(f"  HTTP: {runtime.http_url}  (OpenAPI: {runtime.http_url}/openapi.json)")
        if demo:
            receipts = await post_story(runtime.nats_url, settings.stream_inbound)
            for receipt in receipts:
                out.print(f"  demo: {receipt.message_type}: {receipt.status} - {receipt.summary}")
            cid = example("client.registered")["payload"]["client_id"]
            if runtime.http_url and runtime.token_secret:
                token = issue(runtime.token_secret, Caller("co-5001", "coordinator", "riverside-cmhc"),
                              timedelta(hours=8), settings.token_issuer)
                out.print(f"  try: curl -H 'Authorization: Bearer {token}' "
                          f"{runtime.http_url}/clients/{cid}/care-plan")
        await stop.wait()
    finally:
        runtime_file.unlink(missing_ok=True)
        await runtime.stop()


def _nats_url(settings: Settings) -> str:
    if settings.nats_url:
        return settings.nats_url
    runtime_file = settings.data_dir / RUNTIME_FILE
    if runtime_file.exists():
        return str(json.loads(runtime_file.read_text())["nats_url"])
    raise typer.BadParameter("no NATS_URL set and no running embedded careloop found in "
                             f"{settings.data_dir}; start one with `careloop serve`")


@app.command()
def post(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A message JSON file.")],
    source: Annotated[str | None, typer.Option(help="Source system (default: from the file).")] = None,
    message_type: Annotated[str | None, typer.Option("--type", help="Message type (default: from the file).")] = None,
    new_id: Annotated[bool, typer.Option(help="Give the message a fresh message_id first.")] = False,
    timeout: float = 30.0,
) -> None:
    """Publish a message file to careloop as a team system would, and print its receipt."""
    settings = Settings()
    configure_logging("console", "WARNING")
    body = file.read_bytes()
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        if new_id:
            doc["message_id"] = f"cli-{uuid.uuid4()}"
            body = json.dumps(doc).encode()
        source = source or doc.get("source_system")
        message_type = message_type or doc.get("message_type")
    if not source or not message_type:
        raise typer.BadParameter("cannot read source_system/message_type from the file; "
                                 "give --source and --type")
    receipt = asyncio.run(_post(_nats_url(settings), settings.stream_inbound, source,
                                message_type, body, timeout))
    out.print_json(receipt.model_dump_json())
    raise typer.Exit(0 if receipt.status == "accepted" else 1)


async def _post(url: str, stream: str, source: str, message_type: str, body: bytes, timeout: float):  # type: ignore[no-untyped-def]
    from services.partners.client import PartnerClient

    client = await PartnerClient.connect(url, source, stream)
    try:
        return await client.post_raw(body, message_type, timeout)
    finally:
        await client.close()


@app.command()
def token(
    user: Annotated[str, typer.Option(help="The person's id.")],
    role: Annotated[str, typer.Option(help=", ".join(ROLES))],
    organisation: Annotated[str, typer.Option(help="The organisation they act for.")],
    minutes: Annotated[int, typer.Option(help="Lifetime of the token.")] = 480,
) -> None:
    """Issue an access token (needs CARELOOP_TOKEN_SECRET, or embedded mode's own secret)."""
    settings = Settings()
    secret = secret_for(settings.token_secret, settings.data_dir, create=False)
    try:
        out.print(issue(secret, Caller(user, role, organisation), timedelta(minutes=minutes),
                        settings.token_issuer), soft_wrap=True)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e


@app.command()
def keygen() -> None:
    """Print a new AES-256 key for CARELOOP_CIPHER_KEY (event payloads encrypted at rest)."""
    from services.store.encryption_at_rest import new_key

    out.print(new_key(), highlight=False)


@app.command("nats-config")
def nats_config(
    target: Annotated[Path, typer.Argument(help="Where to write the nats-server configuration.")],
    partners: Annotated[Path, typer.Option(exists=True, help="Partner registry JSON.")] = Path(
        "deploy/partners.json"),
) -> None:
    """Write a nats-server configuration with a user per partner system (own subjects only)
    and careloop's user, with fresh passwords, and the passwords beside it (both 0600)."""
    from services.bus.permissions import new_credentials, write_nats_server_config
    from services.partners.registry import PartnerRegistry

    config, passwords = new_credentials(PartnerRegistry.load(partners))
    write_nats_server_config(target, config)
    secrets_file = target.with_suffix(".passwords.json")
    secrets_file.touch(mode=0o600)
    secrets_file.write_text(json.dumps(passwords, indent=2))
    out.print(f"wrote {target} and {secrets_file}; give each system its password")


@app.command()
def contracts() -> None:
    """Regenerate contracts/schemas and docs/catalogue.md (message types, event names,
    rejection codes) from the code."""
    from contracts.export import main
    from services.cli.catalogue import write_catalogue

    main()
    write_catalogue()
    structlog.get_logger().info("contracts_exported")


if __name__ == "__main__":
    app()
