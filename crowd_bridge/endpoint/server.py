"""Building, serving and embedding the bundled MTurk-compatible endpoint.

``build_app`` turns an :class:`EndpointConfig` into an ASGI app; ``serve``
runs it under uvicorn for the command line; :class:`RunningEndpoint` runs it
in a background thread on a free local port, for tests and dry runs.
:func:`add_requester` issues the access keys requesters sign calls with.

Served endpoints check every call's SigV4 signature unless told
``auth="open"``. A :class:`RunningEndpoint` is for simulations: it accepts
any key (``open``) unless its config lists ``requesters``, whose keys it
registers and then checks.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette

from crowd_bridge.errors import ConfigError, CrowdBridgeError

from .app import Runtime, create_app
from .auth import AUTH_MODES, OPEN, SIGV4, Authenticator
from .clock import VirtualClock, make_clock
from .crowds.base import Crowd
from .crowds.replay import ReplayCrowd
from .crowds.synthetic import SyntheticCrowd, SyntheticSpec
from .faults import FaultInjector, FaultPlan
from .model import RequesterKey
from .money import FeeSchedule
from .notifications import Notifier, NotifyConfig
from .simulation import Simulation
from .state import EndpointState
from .store import StateStore, sqlite_url
from .validation import RequestValidator

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 30.0
ACCESS_KEY_PREFIX = "AKIA"
_KEY_ALPHABET = string.ascii_uppercase + string.digits
# The endpoint is on this machine; never route its admin calls via a proxy.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class EndpointConfig:
    """How to run the endpoint.

    ``crowd`` is a :class:`Crowd`, or text: ``"replay:<answers.csv>"``,
    ``"synthetic:<spec.yaml>"`` or ``"synthetic"`` for the default spec.
    ``start_time`` is where a virtual clock starts (default: now, whole
    seconds); naive datetimes are UTC. With ``state_url`` (a SQLAlchemy URL,
    SQLite or PostgreSQL) or ``state_path`` (a SQLite file) every answered
    call is stored and a restart resumes from it; a resumed virtual clock
    keeps its time. ``faults`` injects failures, e.g.
    ``"throttle=0.1,fault=0.02,lost=0.01"`` (see :class:`FaultPlan`).

    ``auth`` is ``"sigv4"`` (every call signed with an issued key) or
    ``"open"`` (any key accepted and taken as the requester, for
    simulations); None lets :func:`serve` and :func:`build_app` choose
    sigv4 and :class:`RunningEndpoint` choose open unless ``requesters``
    (access key id -> secret, registered at start) is given.
    ``notifications`` says where HIT event notifications are delivered.
    """

    clock: Literal["real", "virtual"] = "real"
    start_time: datetime | float | str | None = None
    crowd: str | Crowd | None = None
    seed: int = 0
    starting_balance_cents: int = 1_000_000
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    state_path: str | Path | None = None
    faults: str | FaultPlan | None = None
    state_url: str | None = None
    auth: Literal["sigv4", "open"] | None = None
    requesters: Mapping[str, str] = field(default_factory=dict)
    notifications: NotifyConfig = field(default_factory=NotifyConfig)

    def store_url(self) -> str | None:
        """The SQLAlchemy URL of the state database, if state is kept."""
        if self.state_url is not None and self.state_path is not None:
            raise ConfigError("Give the endpoint state_url or state_path, not both.")
        if self.state_path is not None:
            return sqlite_url(self.state_path)
        return self.state_url


def utc_datetime(epoch: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, timezone.utc)


def load_crowd(spec: str | Crowd | None) -> Crowd | None:
    """The crowd a config names, loaded from its file."""
    if spec is None or isinstance(spec, Crowd):
        return spec

    kind, _, where = spec.partition(":")
    if kind == "replay" and where:
        return ReplayCrowd(where)
    if kind == "synthetic":
        return SyntheticCrowd(SyntheticSpec.from_file(where) if where else None)
    raise ConfigError(
        f"The crowd {spec!r} is unknown; use 'replay:<answers.csv>', "
        "'synthetic:<spec.yaml>' or 'synthetic'."
    )


def build_runtime(config: EndpointConfig, default_auth: str = SIGV4) -> Runtime:
    """Everything a served endpoint needs, loaded from its store if it has one."""
    auth_mode = config.auth or default_auth
    if auth_mode not in AUTH_MODES:
        raise ConfigError(
            f"The endpoint auth mode {auth_mode!r} is unknown; use 'sigv4' or 'open'."
        )
    state = EndpointState(
        seed=config.seed,
        starting_balance_cents=config.starting_balance_cents,
        fees=config.fees,
    )
    url = config.store_url()
    store = None
    if url is not None:
        store = StateStore(url)
        store.load(state)
    for access_key_id, secret in config.requesters.items():
        if access_key_id not in state.requester_keys:
            state.add_requester_key(
                RequesterKey(access_key_id, access_key_id, secret, time.time())
            )

    start: datetime | float | str | None = config.start_time
    if config.clock == "virtual" and state.clock_now is not None:
        start = state.clock_now
    clock = make_clock(config.clock, start)

    crowd = load_crowd(config.crowd)
    simulation = Simulation(state, clock, crowd, config.seed)
    if isinstance(clock, VirtualClock):
        state.clock_now = clock.now()
        state.touch("meta", "state")
    plan = (
        config.faults
        if isinstance(config.faults, FaultPlan)
        else FaultPlan.parse(config.faults)
    )
    runtime = Runtime(
        state=state,
        simulation=simulation,
        validator=RequestValidator(),
        store=store,
        crowd_name=None if crowd is None else crowd.name,
        faults=FaultInjector(plan, config.seed),
        auth=Authenticator(auth_mode, lambda key: runtime.secret_of(key)),
        notifier=Notifier(config.notifications),
    )
    runtime.persist()
    # Notifications stored but never delivered before the last stop.
    runtime.notifier.enqueue(list(state.outbox.values()))
    if auth_mode == SIGV4 and not state.requester_keys:
        logger.warning(
            "No requester has an access key yet; every call will be refused "
            "until one is added (crowd-bridge endpoint add-requester)."
        )
    logger.info(
        "Endpoint ready: %s clock, %s auth, crowd %s, seed %d, state %s",
        config.clock,
        auth_mode,
        runtime.crowd_name,
        config.seed,
        store.where if store is not None else "in memory",
    )
    return runtime


def build_app(config: EndpointConfig, default_auth: str = SIGV4) -> Starlette:
    """The ASGI app for ``config``; its runtime is ``app.state.runtime``."""
    return create_app(build_runtime(config, default_auth))


def serve(config: EndpointConfig, host: str = "127.0.0.1", port: int = 8443) -> None:
    """Serve the endpoint until interrupted (what the CLI runs)."""
    app = build_app(config)
    runtime: Runtime = app.state.runtime
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        runtime.notifier.close()
        runtime.persist()
        if runtime.store is not None:
            runtime.store.close()


def new_access_key() -> tuple[str, str]:
    """A fresh access key id (AKIA + 16 characters) and a 40-character secret."""
    key_id = ACCESS_KEY_PREFIX + "".join(
        secrets.choice(_KEY_ALPHABET) for _ in range(16)
    )
    return key_id, secrets.token_urlsafe(30)


def add_requester(
    target: str | Path | Runtime | RunningEndpoint, name: str
) -> tuple[str, str]:
    """Issue an access key for a new requester; returns (access key id, secret).

    ``target`` is the endpoint's state (a SQLAlchemy URL or a SQLite file
    path), which a running endpoint reads new keys from on first use, or a
    runtime or :class:`RunningEndpoint` in this process. Names are labels
    for people; each must be unique. The secret is shown only here.
    """
    if not name.strip():
        raise ConfigError("A requester needs a name.")

    key_id, secret = new_access_key()
    key = RequesterKey(key_id, name.strip(), secret, time.time())
    if isinstance(target, RunningEndpoint):
        target = target.runtime
    if isinstance(target, Runtime):
        _refuse_duplicate_name(target.state.requester_keys.values(), key.name)
        if target.store is not None:
            target.store.write(key)
        # One dict assignment: safe beside the event loop thread, which
        # reads this table but never iterates it.
        target.state.requester_keys[key_id] = key
    else:
        url = str(target) if "://" in str(target) else sqlite_url(target)
        store = StateStore(url)
        try:
            _refuse_duplicate_name(store.requester_keys(), key.name)
            store.write(key)
        finally:
            store.close()
    logger.info("Issued access key %s to requester %s", key_id, key.name)
    return key_id, secret


def fund_requester(
    target: str | Path | Runtime | RunningEndpoint, access_key_id: str, cents: int
) -> int:
    """Add prepaid funds to a requester's balance; returns the new balance.

    ``target`` is a runtime in this process, or the state database of an
    endpoint that is not running: a running endpoint keeps balances in
    memory and would overwrite a change made beside it (simulations fund
    through ``POST /_sim/fund`` instead).
    """
    if cents <= 0:
        raise ConfigError("Funds to add must be a positive amount.")
    if isinstance(target, RunningEndpoint):
        target = target.runtime
    if isinstance(target, Runtime):
        state, store = target.state, target.store
    else:
        url = str(target) if "://" in str(target) else sqlite_url(target)
        state = EndpointState()
        store = StateStore(url)
        store.load(state)
    try:
        known = {key.access_key_id for key in state.requester_keys.values()}
        if access_key_id not in known and access_key_id not in state.accounts:
            raise ConfigError(
                f"No requester has the access key {access_key_id}; list them with "
                "crowd-bridge endpoint requesters."
            )
        account = state.account(access_key_id)
        account.balance_cents += cents
        state.touch("account", access_key_id)
        if store is not None:
            store.flush(state)
    finally:
        if store is not None and not isinstance(target, Runtime):
            store.close()
    logger.info(
        "Requester %s funded with %d cents; balance %d cents",
        access_key_id,
        cents,
        account.balance_cents,
    )
    return account.balance_cents


def list_requesters(target: str | Path) -> list[dict[str, Any]]:
    """Every issued key in a state database: name, access key id, created.

    Secrets are never listed.
    """
    url = str(target) if "://" in str(target) else sqlite_url(target)
    store = StateStore(url)
    try:
        keys = store.requester_keys()
    finally:
        store.close()
    return [
        {
            "name": key.name,
            "access_key_id": key.access_key_id,
            "created": utc_datetime(key.created),
        }
        for key in sorted(keys, key=lambda k: k.created)
    ]


def _refuse_duplicate_name(keys: Any, name: str) -> None:
    for key in keys:
        if key.name == name:
            raise ConfigError(
                f"A requester named {name!r} already has access key "
                f"{key.access_key_id}; choose another name."
            )


class RunningEndpoint:
    """The endpoint on a free 127.0.0.1 port in a background thread.

    Use it as a context manager; ``url`` is what a boto3 client's
    ``endpoint_url`` should be.
    """

    def __init__(self, config: EndpointConfig | None = None) -> None:
        self.config = config or EndpointConfig(clock="virtual")
        default_auth = SIGV4 if self.config.requesters else OPEN
        self.app = build_app(self.config, default_auth)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def start(self) -> RunningEndpoint:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="mturk-endpoint", daemon=True)
        thread.start()

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise CrowdBridgeError("The bundled MTurk endpoint did not start.")
            time.sleep(0.01)

        port = server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self._server, self._thread = server, thread
        logger.info("Bundled MTurk endpoint listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)
        runtime = self.runtime
        runtime.notifier.wait_idle(timeout=5.0)
        runtime.notifier.close()
        # Drop from the store the notifications delivered since the last call.
        runtime.persist()
        if runtime.store is not None:
            runtime.store.close()
        self._server = self._thread = None

    def wait_for_notifications(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was tried; False on timeout."""
        return self.runtime.notifier.wait_idle(timeout)

    def __enter__(self) -> RunningEndpoint:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with _LOCAL.open(request, timeout=600) as response:
            return json.loads(response.read())

    def advance(self, seconds: float) -> datetime:
        """Move the virtual clock forward, letting the crowd work.

        Returns the endpoint's new time as an aware UTC datetime.
        """
        return utc_datetime(self.advance_report(seconds)["now"])

    def advance_report(self, seconds: float) -> dict[str, Any]:
        """Like :meth:`advance`, returning /_sim/advance's whole report."""
        result: dict[str, Any] = self._call(
            "POST", "/_sim/advance", {"seconds": seconds}
        )
        return result

    def now(self) -> datetime:
        """The endpoint's current time as an aware UTC datetime."""
        return utc_datetime(self._call("GET", "/_sim/health")["now"])

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sim/stats")
        return result
