"""Sharing commands: serve TAXII, manage logins, collections, peers and policy, sync, push,
verify signatures and rotate the node key. Thin wrappers over :mod:`accord.share`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from accord.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err_console,
    handle_errors,
    load_home,
    print_json,
)
from accord.model.errors import AccordError
from accord.model.timestamps import format_micros
from accord.model.tlp import TLP

user_app = typer.Typer(help="Logins that peers (or people) use against this node's TAXII server.")
token_app = typer.Typer(help="Bearer tokens for peers.")
collection_app = typer.Typer(help="TAXII collections this node offers.")
peer_app = typer.Typer(help="Peers: whom this node shares with and pulls from.")
policy_app = typer.Typer(help="What each peer may receive (TLP ceiling, collections, redaction).")
key_app = typer.Typer(help="Signing keys: this node's, and the ones it trusts.")
quarantine_app = typer.Typer(help="Objects refused or flagged on arrival.")
settings_app = typer.Typer(help="Node-wide sharing settings.")


def _read_stdin_secret(what: str) -> str:
    if sys.stdin.isatty():
        err_console.print(f"{what}: ", end="")
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise AccordError(f"no {what} on standard input")
    return value


def _level(value: str | None) -> TLP | None:
    if value is None:
        return None
    try:
        return TLP.parse(value)
    except ValueError as exc:
        raise AccordError(str(exc)) from None


def _stamp(us: int | None) -> str | None:
    return format_micros(us) if us else None


# --- serve -------------------------------------------------------------------------------


@handle_errors
def serve_cmd(
    home: HomeOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8470,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve TAXII 2.1: discovery at /taxii2/, the API root at /api/."""
    from accord.share.serving import serve

    if (tls_cert is None) != (tls_key is None):
        raise AccordError("give both --tls-cert and --tls-key, or neither")
    node = load_home(home)
    scheme = "https" if tls_cert else "http"
    err_console.print(f"accord TAXII 2.1 on {scheme}://{host}:{port}/taxii2/ (API root /api/)")
    serve(node, host, port, tls_cert=tls_cert, tls_key=tls_key, log_level=log_level)


# --- users and tokens ----------------------------------------------------------------------


def _done(as_json: bool, data: dict[str, object], text: str) -> None:
    """Confirm a change: the given record under ``--json``, else one line of text."""
    if as_json:
        print_json(data)
    else:
        console.print(text)


@user_app.command("add")
@handle_errors
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    peer: Annotated[
        str | None, typer.Option(help="Peer whose policy applies (default: the same name).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a login; the password is hashed with argon2id."""
    from accord.share.auth import add_user

    if not password_stdin:
        raise AccordError("pass the password on standard input with --password-stdin")
    password = _read_stdin_secret("password")
    with load_home(home).open_store() as store:
        add_user(store, name, password, peer=peer)
    if as_json:
        print_json({"user": name, "peer": peer or name})
    else:
        console.print(f"user [bold]{name}[/] created (policy of peer {peer or name})")


@user_app.command("passwd")
@handle_errors
def user_passwd(
    name: Annotated[str, typer.Argument(help="Login name.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a login's password (takes effect at once on every server process)."""
    from accord.share.auth import set_password

    if not password_stdin:
        raise AccordError("pass the password on standard input with --password-stdin")
    with load_home(home).open_store() as store:
        set_password(store, name, _read_stdin_secret("password"))
    _done(as_json, {"user": name, "password": "changed"}, f"password of {name} changed")


@user_app.command("disable")
@handle_errors
def user_disable(name: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Disable a login."""
    from accord.share.auth import disable_user

    with load_home(home).open_store() as store:
        disable_user(store, name)
    _done(as_json, {"user": name, "disabled": True}, f"user {name} disabled")


@user_app.command("list")
@handle_errors
def user_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List logins and the peer each one acts for."""
    from accord.share.auth import list_users

    with load_home(home).open_store() as store:
        users = list_users(store)
    if as_json:
        print_json(users)
        return
    table = Table("user", "peer", "disabled")
    for u in users:
        table.add_row(u["name"], u["peer"], "yes" if u["disabled"] else "")
    console.print(table)


@token_app.command("create")
@handle_errors
def token_create(
    peer: Annotated[str, typer.Option("--peer", help="Peer the token acts for.")],
    label: Annotated[str | None, typer.Option(help="A note to recognise the token by.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a bearer token for a peer; it is shown once and stored only as a hash."""
    from accord.share.auth import create_token

    with load_home(home).open_store() as store:
        token = create_token(store, peer, label)
    if as_json:
        print_json({"peer": peer, "token": token})
    else:
        sys.stdout.write(token + "\n")


@token_app.command("revoke")
@handle_errors
def token_revoke(
    peer: Annotated[str, typer.Option("--peer", help="Peer whose tokens to revoke.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke every token of a peer."""
    from accord.share.auth import revoke_tokens

    with load_home(home).open_store() as store:
        count = revoke_tokens(store, peer)
    _done(as_json, {"peer": peer, "revoked": count}, f"{count} token(s) of {peer} revoked")


# --- collections ---------------------------------------------------------------------------


@collection_app.command("add")
@handle_errors
def collection_add(
    name: Annotated[str, typer.Argument(help="Collection title.")],
    description: Annotated[str | None, typer.Option(help="What it holds.")] = None,
    query: Annotated[
        str,
        typer.Option(help="Selection, e.g. 'types=indicator creator=self tlp<=green source=file'."),
    ] = "",
    inbox: Annotated[bool, typer.Option("--inbox", help="A writable inbox for peers.")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a collection: a stored selection, or with --inbox a writable inbox."""
    from accord.share.collections import add_collection

    with load_home(home).open_store() as store:
        found = add_collection(store, name, description=description, query=query, inbox=inbox)
    if as_json:
        print_json(found.as_dict())
    else:
        console.print(f"collection [bold]{found.name}[/] ({found.kind}): {found.collection_id}")


@collection_app.command("list")
@handle_errors
def collection_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List collections with their TAXII ids and the peers granted each."""
    from accord.share.collections import grants_by_collection, list_collections

    with load_home(home).open_store() as store:
        found = list_collections(store)
        grants = grants_by_collection(store)
    rows = [c.as_dict(grants.get(c.collection_id)) for c in found]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "kind", "query", "peers")
    for r in rows:
        table.add_row(r["id"], r["name"], r["kind"], r["query"], ", ".join(r["peers"]))
    console.print(table)


@collection_app.command("remove")
@handle_errors
def collection_remove(name: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Remove a collection (the objects stay in the store)."""
    from accord.share.collections import remove_collection

    with load_home(home).open_store() as store:
        remove_collection(store, name)
    _done(as_json, {"collection": name, "removed": True}, f"collection {name} removed")


# --- peers ---------------------------------------------------------------------------------


@peer_app.command("add")
@handle_errors
def peer_add(
    name: Annotated[str, typer.Argument(help="Peer name (also its login's default policy).")],
    url: Annotated[str, typer.Argument(help="The peer's discovery or API root URL.")],
    user: Annotated[str | None, typer.Option("--user", help="Login at the peer.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    token_stdin: Annotated[bool, typer.Option("--token-stdin")] = False,
    collection: Annotated[
        list[str] | None,
        typer.Option("--collection", help="Remote collection to pull (id or title; repeat)."),
    ] = None,
    tlp_max: Annotated[
        str, typer.Option("--tlp-max", help="Highest TLP this peer may read.")
    ] = "GREEN",
    same_org: Annotated[
        bool, typer.Option("--same-org", help="The peer is part of this organisation.")
    ] = False,
    redact: Annotated[
        str, typer.Option(help="Redaction profile: none, standard, strict.")
    ] = "none",
    grant: Annotated[
        list[str] | None, typer.Option("--grant", help="Local collection it may read (repeat).")
    ] = None,
    ca_cert: Annotated[Path | None, typer.Option(help="CA bundle to trust for its TLS.")] = None,
    key: Annotated[
        str | None, typer.Option(help="Pin this public key (base64 raw or PEM file).")
    ] = None,
    fetch_key: Annotated[
        bool, typer.Option("--fetch-key/--no-fetch-key", help="Fetch and pin its key now.")
    ] = True,
    replace: Annotated[bool, typer.Option(help="Change an existing peer.")] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a peer: how to reach it, and what it may read here."""
    from accord.share.client import PeerError, RetryPolicy
    from accord.share.peers import get_peer, pin_identity, save_peer, set_policy
    from accord.share.signing import load_key_argument
    from accord.share.sync import check_peer_identity, client_for
    from accord.store.home import key_id

    if password_stdin and token_stdin:
        raise AccordError("use --password-stdin or --token-stdin, not both")
    password = _read_stdin_secret("password") if password_stdin else None
    token = _read_stdin_secret("token") if token_stdin else None
    level = _level(tlp_max)
    level = TLP.GREEN if level is None else level  # CLEAR is 0: never `or` a level
    node = load_home(home)
    notes: list[str] = []
    with node.open_store() as store:
        peer = save_peer(
            store,
            node.private_key(),
            name,
            url,
            username=user,
            password=password,
            token=token,
            remote_collections=list(collection or []),
            tlp_max=level,
            same_org=same_org,
            redact=redact,
            ca_cert=str(ca_cert) if ca_cert else None,
            replace=replace,
        )
        if grant:
            peer = set_policy(store, name, collections=list(grant))
        if key:
            pin_identity(store, name, None, key_id(load_key_argument(key)))
            peer = get_peer(store, name)
            notes.append(f"pinned key {peer.key_id}")
        if fetch_key:
            client = client_for(node, peer, retry=RetryPolicy(attempts=1))
            try:
                _, info = client.api_root()
            except PeerError as exc:
                info = None
                notes.append(f"could not reach the peer now ({exc}); its key is checked at sync")
            finally:
                client.close()
            if info is not None:
                check_peer_identity(store, peer, info)  # a key mismatch fails here, loudly
                if peer.key_id:
                    notes.append(f"the peer's identity {peer.identity_id} holds key {peer.key_id}")
                else:
                    notes.append("the peer publishes no accord identity: its objects are unsigned")
        peer = get_peer(store, name)
    if as_json:
        print_json({**peer.as_dict(), "notes": notes})
        return
    console.print(f"peer [bold]{peer.name}[/] at {peer.url}")
    for note in notes:
        console.print(f"  {note}")


@peer_app.command("list")
@handle_errors
def peer_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List peers and their policies."""
    from accord.share.peers import list_peers

    with load_home(home).open_store() as store:
        peers = list_peers(store)
    if as_json:
        print_json([p.as_dict() for p in peers])
        return
    table = Table("peer", "url", "tlp max", "same org", "redact", "collections", "key")
    for p in peers:
        table.add_row(
            p.name,
            p.url,
            p.tlp_max.label,
            "yes" if p.same_org else "",
            p.redact,
            str(len(p.grants)),
            p.key_id or "",
        )
    console.print(table)


@peer_app.command("status")
@handle_errors
def peer_status(
    name: Annotated[str | None, typer.Argument(help="One peer (default: all).")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each peer's cursors, last success, last error and counts."""
    from accord.share.peers import get_peer, list_peers
    from accord.share.sync import cursors

    with load_home(home).open_store() as store:
        peers = [get_peer(store, name)] if name else list_peers(store)
        rows = []
        for p in peers:
            st = p.stats
            rows.append(
                {
                    "peer": p.name,
                    "url": p.url,
                    "last_success": _stamp(st.get("last_success_us")),
                    "last_error": st.get("last_error"),
                    "last_error_at": _stamp(st.get("last_error_us")),
                    "received": st.get("received", 0),
                    "stored": st.get("stored", 0),
                    "duplicates": st.get("duplicates", 0),
                    "quarantined": st.get("quarantined", 0),
                    "flagged": st.get("flagged", 0),
                    "pushed": st.get("pushed", 0),
                    "cursors": cursors(store, p.name),
                }
            )
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(
            f"[bold]{r['peer']}[/] {r['url']}\n  last success {r['last_success'] or 'never'}; "
            f"received {r['received']}, stored {r['stored']}, duplicates {r['duplicates']}, "
            f"quarantined {r['quarantined']}, flagged {r['flagged']}, pushed {r['pushed']}"
        )
        if r["last_error"]:
            console.print(f"  last error ({r['last_error_at']}): {r['last_error']}")
        for c in r["cursors"]:
            state = "complete" if c["complete"] else "interrupted"
            console.print(
                f"  {c['collection']}: after {c['added_after']} ({state}, {c['pages']} pages)"
            )


@peer_app.command("remove")
@handle_errors
def peer_remove(name: str, home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Remove a peer, its grants, cursors and tokens."""
    from accord.share.peers import remove_peer

    with load_home(home).open_store() as store:
        remove_peer(store, name)
    _done(as_json, {"peer": name, "removed": True}, f"peer {name} removed")


# --- policy --------------------------------------------------------------------------------


@policy_app.command("set")
@handle_errors
def policy_set(
    peer: Annotated[str, typer.Argument(help="Peer name.")],
    tlp_max: Annotated[
        str | None, typer.Option("--tlp-max", help="GREEN, AMBER or AMBER+STRICT.")
    ] = None,
    collections: Annotated[
        list[str] | None,
        typer.Option("--collections", help="Collections it may read (ids or names; comma list)."),
    ] = None,
    redact: Annotated[str | None, typer.Option(help="none, standard or strict.")] = None,
    same_org: Annotated[
        bool | None, typer.Option("--same-org/--other-org", help="Same organisation?")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set what a peer may read. Unset options keep their value."""
    from accord.share.peers import set_policy

    chosen = None
    if collections is not None:
        chosen = [c.strip() for value in collections for c in value.split(",") if c.strip()]
    with load_home(home).open_store() as store:
        peer_obj = set_policy(
            store,
            peer,
            tlp_max=_level(tlp_max),
            same_org=same_org,
            collections=chosen,
            redact=redact,
        )
    if as_json:
        print_json({"peer": peer, **peer_obj.policy_dict()})
    else:
        p = peer_obj.policy_dict()
        console.print(
            f"{peer}: up to TLP:{p['tlp_max']}, redaction {p['redact']}, "
            f"{len(p['collections'])} collection(s){', same organisation' if p['same_org'] else ''}"
        )


@policy_app.command("preview")
@handle_errors
def policy_preview(
    peer: Annotated[str, typer.Argument(help="Peer name.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """List exactly what a peer would receive, and what stays home."""
    from accord.share.egress import preview

    node = load_home(home)
    with node.open_store() as store:
        result = preview(node, store, peer)
    if as_json:
        print_json(result)
        return
    table = Table("id", "type", "version", "tlp", "action")
    for item in result["items"]:
        table.add_row(item["id"], item["type"], item["version"], item["tlp"], item["action"])
    console.print(table)
    console.print(f"{result['count']} object version(s) would reach {peer}")
    if result["stays_home_by_tlp"]:
        home_levels = ", ".join(f"{k}: {v}" for k, v in result["stays_home_by_tlp"].items())
        console.print(f"stay home by TLP: {home_levels}")
    for reason, count in result["withheld_by_redaction"].items():
        console.print(f"withheld by redaction ({reason}): {count}")


# --- sync and push -------------------------------------------------------------------------


@handle_errors
def sync_cmd(
    peer: Annotated[str | None, typer.Argument(help="Peer to pull from (default: all).")] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", help="Only this remote collection.")
    ] = None,
    page_size: Annotated[int, typer.Option(help="Objects per request.")] = 1000,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Pull new objects from peers (incremental, resumable)."""
    from accord.share.peers import list_peers
    from accord.share.sync import Progress as SyncProgress
    from accord.share.sync import sync_peer

    node = load_home(home)
    reports = []
    with node.open_store() as store:
        names = [peer] if peer else [p.name for p in list_peers(store)]
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("sync", total=None, status="")

            def show(p: SyncProgress) -> None:
                left = f", {p.pages_left} page(s) left" if p.pages_left is not None else ""
                bar.update(
                    task,
                    description=f"{p.peer}/{p.collection}",
                    status=f"{p.objects} objects, {p.pages} pages, {p.rate:,.0f} objects/s{left}",
                )

            def retried(message: str) -> None:
                err_console.print(f"[yellow]retry:[/] {message}", highlight=False)

            for name in names:
                reports.append(
                    sync_peer(
                        node,
                        store,
                        name,
                        collection=collection,
                        page_size=page_size,
                        progress=show,
                        on_retry=retried,
                    )
                )
    data = [r.as_dict() for r in reports]
    if as_json:
        print_json(data[0] if peer else data)
    else:
        for r in data:
            line = (
                f"{r['peer']}: received {r['received']}, stored {r['stored']}, "
                f"duplicates {r['duplicates']}, quarantined {r['quarantined']}, "
                f"flagged {r['flagged']}"
            )
            console.print(line)
            if r["error"]:
                err_console.print(f"[bold red]error:[/] {r['peer']}: {r['error']}", highlight=False)
    if any(r.error for r in reports):
        raise typer.Exit(1)


@handle_errors
def push_cmd(
    peer: Annotated[str, typer.Argument(help="Peer to push to.")],
    collection: Annotated[
        str | None, typer.Option("--collection", help="Remote inbox (id or title).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Push what a peer may receive to its writable inbox, under its policy."""
    from accord.share.push import push_peer

    node = load_home(home)
    with node.open_store() as store, err_console.status("pushing…") as status:
        report = push_peer(
            node,
            store,
            peer,
            collection=collection,
            progress=lambda n: status.update(f"pushing… {n} objects sent"),
        )
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(
            f"{peer}: sent {report.sent} in {report.envelopes} envelope(s), "
            f"{report.succeeded} accepted, {report.failed} refused"
        )
    if report.error:
        err_console.print(f"[bold red]error:[/] {report.error}", highlight=False)
        raise typer.Exit(1)


# --- signatures ----------------------------------------------------------------------------


@handle_errors
def verify_cmd(
    target: Annotated[str, typer.Argument(help="An object id in the store, or a JSON file.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Report who signed each object and whether the signature holds."""
    from accord.share.verify import verify_target

    with load_home(home).open_store() as store:
        results = verify_target(store, target)
    if as_json:
        print_json(results)
    else:
        for r in results:
            who = r["signer_name"] or r["signer"] or "unknown creator"
            detail = f" ({r['reason']})" if r["reason"] else ""
            console.print(f"{r['id']} {r['version']}: {r['status']}, signer {who}{detail}")
    if any(r["status"] == "invalid" for r in results):
        raise typer.Exit(1)


@key_app.command("list")
@handle_errors
def key_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Keys this node trusts, and how it came to trust each."""
    from sqlalchemy import select

    from accord.share import tables as t

    with load_home(home).open_store() as store, store.engine.connect() as conn:
        rows = [
            {
                "key_id": r.key_id,
                "identity": r.identity_id,
                "source": r.source,
                "first_seen": _stamp(r.first_seen_us),
            }
            for r in conn.execute(select(t.keys).order_by(t.keys.c.first_seen_us))
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("key id", "identity", "source", "first seen")
    for r in rows:
        table.add_row(r["key_id"], r["identity"], r["source"], r["first_seen"])
    console.print(table)


@key_app.command("pin")
@handle_errors
def key_pin(
    identity: Annotated[str, typer.Argument(help="The identity id the key belongs to.")],
    key: Annotated[str, typer.Argument(help="Public key: base64 raw Ed25519 or a PEM file.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trust a third party's key explicitly (checked out of band)."""
    from accord.share.signing import KeyRing, TrustedKey, load_key_argument
    from accord.store.home import key_id

    raw = load_key_argument(key)
    with load_home(home).open_store() as store, store.transaction() as conn:
        ring = KeyRing.load(conn)
        known = ring.keys.get(key_id(raw))
        if known and known.identity_id != identity:
            raise AccordError(f"key {key_id(raw)} is already trusted for {known.identity_id}")
        ring.trust(conn, TrustedKey(key_id(raw), identity, raw, "pinned by operator"))
    pinned = {"key_id": key_id(raw), "identity": identity}
    _done(as_json, pinned, f"key {key_id(raw)} pinned for {identity}")


@key_app.command("rotate")
@handle_errors
def key_rotate(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Replace the node key; a new identity version, vouched for by the old key."""
    from accord.share.signing import rotate_key

    node = load_home(home)
    with node.open_store() as store:
        identity = rotate_key(node, store)
    if as_json:
        print_json({"identity": identity["id"], "key_id": identity["x_accord_key_id"]})
    else:
        console.print(f"new key {identity['x_accord_key_id']}; restart `accord serve` processes")


@quarantine_app.command("list")
@handle_errors
def quarantine_list(
    limit: Annotated[int, typer.Option(help="Newest entries to show.")] = 100,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Objects refused (quarantined) or accepted with a flag, newest first."""
    from sqlalchemy import select

    from accord.share import tables as t

    with load_home(home).open_store() as store, store.engine.connect() as conn:
        rows = [
            {
                "received": _stamp(r.received_us),
                "source": r.source,
                "object": r.object_id,
                "version": r.version,
                "action": r.action,
                "reason": r.reason,
            }
            for r in conn.execute(
                select(t.quarantine).order_by(t.quarantine.c.q_id.desc()).limit(limit)
            )
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("received", "source", "object", "action", "reason")
    for r in rows:
        table.add_row(r["received"], r["source"], r["object"] or "", r["action"], r["reason"])
    console.print(table)


@settings_app.command("set")
@handle_errors
def settings_set(
    anonymous_discovery: Annotated[
        bool | None,
        typer.Option("--anonymous-discovery/--no-anonymous-discovery", help="Open /taxii2/."),
    ] = None,
    internal_domain: Annotated[
        list[str] | None, typer.Option("--internal-domain", help="Internal DNS suffix (repeat).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Server title.")] = None,
    contact: Annotated[str | None, typer.Option(help="Contact shown in discovery.")] = None,
    max_content_length: Annotated[int | None, typer.Option(help="Largest POST, bytes.")] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change node-wide sharing settings (read by every server process)."""
    from accord.share.settings import load_settings, save_settings

    with load_home(home).open_store() as store:
        settings = load_settings(store)
        if anonymous_discovery is not None:
            settings.anonymous_discovery = anonymous_discovery
        if internal_domain is not None:
            settings.internal_domains = list(dict.fromkeys(internal_domain))
        if title is not None:
            settings.title = title
        if contact is not None:
            settings.contact = contact
        if max_content_length is not None:
            settings.max_content_length = max_content_length
        save_settings(store, settings)
    if as_json:
        print_json(settings.as_dict())
    else:
        for key, value in settings.as_dict().items():
            console.print(f"{key} = {value}")


def register(app: typer.Typer) -> None:
    """Add the sharing commands to the ``accord`` command."""
    app.command("serve")(serve_cmd)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(collection_app, name="collection")
    app.add_typer(peer_app, name="peer")
    app.add_typer(policy_app, name="policy")
    app.command("sync")(sync_cmd)
    app.command("push")(push_cmd)
    app.command("verify")(verify_cmd)
    app.add_typer(key_app, name="key")
    app.add_typer(quarantine_app, name="quarantine")
    app.add_typer(settings_app, name="share")
