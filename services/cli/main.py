"""The ``careloop`` command: run the service, post a message as a partner would, export contracts."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console

from services.api.access_tokens import ROLES, Caller, issue, secret_for
from services.bus.connection import tls_context
from services.bus.embedded_auth import NoCredentials, load_credentials
from services.bus.permissions import partner_inbox
from services.cli.audit import audit_app
from services.cli.deploy_secrets import deploy_secrets_cmd
from services.cli.fhir import fhir_cmd
from services.cli.structured_logging import configure_logging
from services.observability import tracing
from services.settings import Settings

app = typer.Typer(help="careloop: the shared spine of an interdisciplinary care team.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(audit_app, name="audit")
app.command("fhir")(fhir_cmd)
app.command("deploy-secrets")(deploy_secrets_cmd)
out = Console(soft_wrap=True)
RUNTIME_FILE = "runtime.json"


@app.command()
def serve(
    demo: Annotated[bool, typer.Option(help="Post the sample story once the service is up.")] = False,
    component: Annotated[
        list[str] | None,
        typer.Option(help="Run only these parts (ingest, relay, projector, deadlines, hash_chain, feeds, api); default all."),
    ] = None,
) -> None:
    """Start careloop. Without NATS_URL it starts its own nats-server (embedded mode)."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    tracing.configure_from_env("careloop-" + "-".join(component or ["all"]))
    try:
        asyncio.run(_serve(settings, tuple(component or ()), demo))
    finally:
        tracing.shutdown()  # what the exporter still holds goes out


async def _serve(settings: Settings, components: tuple[str, ...], demo: bool) -> None:
    from services.partners.demo import post_story
    from services.partners.demo_registry import with_registry
    from services.partners.registry import RegistryNotConfigured, load_partner_registry
    from services.runtime import COMPONENTS, Runtime
    from services.web.setup import oidc_issuer

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
        runtime_file.write_text(json.dumps({"nats_url": runtime.nats_url, "http_url": runtime.http_url,
                                            "ops_url": runtime.ops.url if runtime.ops else None}))
        out.print(f"careloop is running ({settings.store} store). Stop with Ctrl-C.")
        out.print(f"  NATS: {runtime.nats_url}")
        if runtime.ops is not None and runtime.ops.url:
            out.print(f"  Ops:  {runtime.ops.url}/metrics  /livez  /readyz")
        if runtime.http_url:
            out.print(f"  HTTP: {runtime.http_url}  (OpenAPI: {runtime.http_url}/openapi.json)")
            local = not settings.nats_url and not oidc_issuer(settings)
            out.print(f"  Web:  {runtime.http_url}/ui/" + (
                "  (sign in as one of the demo people)" if local else ""))
        if demo:
            receipts = await post_story(runtime.nats_url, settings.stream_inbound,
                                        partner_options(settings))
            for receipt in receipts:
                out.print(f"  demo: {receipt.message_type}: {receipt.status} - {receipt.summary}")
        if runtime.http_url:  # how to get a token, never a token
            out.print("  token: .venv/bin/careloop token --user co-5001 --role coordinator "
                      "--organisation riverside-cmhc  (valid 60 minutes; see --help)")
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
    try:
        options = partner_options(settings)(source)
    except NoCredentials as e:
        raise typer.BadParameter(str(e)) from e
    tracing.configure_from_env("careloop-post")  # OTEL_TRACES_EXPORTER=console shows the trace
    try:
        receipt = asyncio.run(_post(_nats_url(settings), settings.stream_inbound, source,
                                    message_type, body, timeout, options))
    finally:
        tracing.shutdown()
    out.print_json(receipt.model_dump_json())
    raise typer.Exit(0 if receipt.status == "accepted" else 1)


def partner_options(settings: Settings) -> Callable[[str], dict[str, Any]]:
    """How ``post`` and the demo connect as a partner system: with embedded mode's
    credentials for it, or (against a NATS of your own) ``CARELOOP_NATS_USER``/``_PASSWORD``
    and, over TLS, ``CARELOOP_NATS_TLS_CA``."""
    def options(system: str) -> dict[str, Any]:
        if settings.nats_url:
            context = tls_context(settings)  # CARELOOP_NATS_TLS_CA: the cluster's CA
            found: dict[str, Any] = {"tls": context} if context is not None else {}
            if not settings.nats_user:
                return found
            return {**found, "user": settings.nats_user, "password": settings.nats_password,
                    "inbox_prefix": partner_inbox(settings.nats_user).encode()}
        return load_credentials(settings.data_dir).partner_options(system)
    return options


async def _post(url: str, stream: str, source: str, message_type: str, body: bytes,  # type: ignore[no-untyped-def]
                timeout: float, options: dict[str, Any]):
    from services.partners.client import PartnerClient

    client = await PartnerClient.connect(url, source, stream, **options)
    try:
        return await client.post_raw(body, message_type, timeout)
    finally:
        await client.close()


@app.command()
def feed(
    system: Annotated[str, typer.Argument(help="The partner system reading (its NATS user).")],
    organisation: Annotated[str, typer.Option(help="Whose feed: an organisation the system "
                                                   "speaks for.")],
    from_seq: Annotated[int, typer.Option(help="Replay from this stream sequence.")] = 1,
) -> None:
    """Print an organisation's feed as its partner system reads it (direct get by sequence,
    with the system's own credentials; nothing is acknowledged)."""
    from services.partners.feed_reader import replay

    settings = Settings()
    configure_logging("console", "WARNING")
    try:
        options = partner_options(settings)(system)
    except NoCredentials as e:
        raise typer.BadParameter(str(e)) from e
    try:
        messages = asyncio.run(replay(_nats_url(settings), settings, organisation, from_seq,
                                      options))
    except Exception as e:  # refused by the server (not its feed), or no such feed
        out.print(f"cannot read the feed of {organisation} as {system}: {type(e).__name__} "
                  "(a system reads only the feeds of the organisations it speaks for)")
        raise typer.Exit(1) from None
    for message in messages:
        out.print_json(json.dumps(message))


@app.command()
def token(
    user: Annotated[str, typer.Option(help="The person's id.")],
    role: Annotated[str, typer.Option(help=", ".join(ROLES))],
    organisation: Annotated[str, typer.Option(help="The organisation they act for.")],
    minutes: Annotated[int, typer.Option(help="Lifetime of the token.")] = 60,
) -> None:
    """Issue an access token (needs CARELOOP_TOKEN_SECRET, or embedded mode's own secret)."""
    settings = Settings()
    secret = secret_for(settings.token_secret, settings.data_dir, create=False)
    try:
        out.print(issue(secret, Caller(user, role, organisation), timedelta(minutes=minutes),
                        settings.token_issuer, audience=settings.token_audience), soft_wrap=True)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e


@app.command()
def keygen() -> None:
    """Print a new AES-256 key for CARELOOP_CIPHER_KEY (event payloads encrypted at rest)."""
    from services.store.encryption_at_rest import new_key

    out.print(new_key(), highlight=False)


@app.command("rekey-views")
def rekey_views() -> None:
    """After rotating CARELOOP_CIPHER_KEY (old key in CARELOOP_CIPHER_OLD_KEYS): re-seal
    every stored view document under the new key. Run it with careloop stopped."""
    from services.store.rekey import reseal_views

    out.print(f"re-sealed {reseal_views(Settings())} view documents and rows")


@app.command("nats-config")
def nats_config(
    target: Annotated[Path, typer.Argument(help="Where to write the nats-server configuration.")],
    partners: Annotated[Path, typer.Option(exists=True, help="Partner registry JSON.")] = Path(
        "deploy/partners.json"),
) -> None:
    """Write a nats-server configuration: careloop's user and one user per partner system
    (exactly what the partner guide allows), fresh passwords and a JetStream encryption key.
    Beside it: the passwords (``.passwords.json``) and the same blocks as includes
    (``.authorization.conf``, ``.jetstream.conf``). All 0600. The deploy/ stacks take theirs,
    TLS included, from ``careloop deploy-secrets``."""
    from services.bus.permissions import (
        include_files,
        new_credentials,
        write_nats_server_config,
        write_private,
    )
    from services.partners.registry import PartnerRegistry

    config, passwords = new_credentials(PartnerRegistry.load(partners), streams=Settings())
    write_nats_server_config(target, config)
    secrets_file = write_private(target.with_suffix(".passwords.json"),
                                json.dumps(passwords, indent=2))
    for part, text in include_files(config).items():
        write_private(target.with_suffix(f".{part}.conf"), text)
    out.print(f"wrote {target}, its includes and {secrets_file}; give each system its password")


@app.command()
def asyncapi() -> None:
    """Regenerate contracts/asyncapi.json (AsyncAPI 3.0) from the contracts."""
    from services.api.asyncapi_document import write

    out.print(f"wrote {write()}")


@app.command()
def contracts() -> None:
    """Regenerate contracts/schemas, docs/catalogue.md (message types, event names,
    rejection codes) and contracts/asyncapi.json from the code."""
    from contracts.export import main
    from services.api.asyncapi_document import write
    from services.cli.catalogue import write_catalogue

    main()
    write_catalogue()
    write()
    structlog.get_logger().info("contracts_exported")


if __name__ == "__main__":
    app()
