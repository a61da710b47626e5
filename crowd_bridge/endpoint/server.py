"""Building, serving and embedding the bundled MTurk-compatible endpoint.

``build_app`` turns an :class:`EndpointConfig` into an ASGI app; ``serve``
runs it under uvicorn for the command line; :class:`RunningEndpoint` runs it
in a background thread on a free local port, for tests and dry runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette

from crowd_bridge.errors import ConfigError, CrowdBridgeError

from .app import Runtime, create_app
from .clock import VirtualClock, make_clock
from .crowds.base import Crowd
from .crowds.replay import ReplayCrowd
from .crowds.synthetic import SyntheticCrowd, SyntheticSpec
from .faults import FaultInjector, FaultPlan
from .money import FeeSchedule
from .simulation import Simulation
from .state import EndpointState
from .store import SqliteStore
from .validation import RequestValidator

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 30.0
# The endpoint is on this machine; never route its admin calls via a proxy.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class EndpointConfig:
    """How to run the endpoint.

    ``crowd`` is a :class:`Crowd`, or text: ``"replay:<answers.csv>"``,
    ``"synthetic:<spec.yaml>"`` or ``"synthetic"`` for the default spec.
    ``start_time`` is where a virtual clock starts (default: now, whole
    seconds); naive datetimes are UTC. With ``state_path`` every answered
    call is kept in that SQLite file and a restart resumes from it; a
    resumed virtual clock keeps its time. ``faults`` injects failures, e.g.
    ``"throttle=0.1,fault=0.02,lost=0.01"`` (see :class:`FaultPlan`).
    """

    clock: Literal["real", "virtual"] = "real"
    start_time: datetime | float | str | None = None
    crowd: str | Crowd | None = None
    seed: int = 0
    starting_balance_cents: int = 1_000_000
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    state_path: str | Path | None = None
    faults: str | FaultPlan | None = None


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


def build_runtime(config: EndpointConfig) -> Runtime:
    state = EndpointState(
        seed=config.seed,
        starting_balance_cents=config.starting_balance_cents,
        fees=config.fees,
    )
    store = None
    if config.state_path is not None:
        store = SqliteStore(config.state_path)
        store.load(state)

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
    )
    runtime.persist()
    logger.info(
        "Endpoint ready: %s clock, crowd %s, seed %d, state %s",
        config.clock,
        runtime.crowd_name,
        config.seed,
        config.state_path or "in memory",
    )
    return runtime


def build_app(config: EndpointConfig) -> Starlette:
    """The ASGI app for ``config``; its runtime is ``app.state.runtime``."""
    return create_app(build_runtime(config))


def serve(config: EndpointConfig, host: str = "127.0.0.1", port: int = 8443) -> None:
    """Serve the endpoint until interrupted (what the CLI runs)."""
    app = build_app(config)
    uvicorn.run(app, host=host, port=port, log_level="info")


class RunningEndpoint:
    """The endpoint on a free 127.0.0.1 port in a background thread.

    Use it as a context manager; ``url`` is what a boto3 client's
    ``endpoint_url`` should be.
    """

    def __init__(self, config: EndpointConfig | None = None) -> None:
        self.config = config or EndpointConfig(clock="virtual")
        self.app = build_app(self.config)
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
        if self.runtime.store is not None:
            self.runtime.store.close()
        self._server = self._thread = None

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
