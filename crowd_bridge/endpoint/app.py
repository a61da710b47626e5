"""The ASGI app: MTurk's JSON protocol, the simulation's admin routes, and
the form-post route a worker's HTML form submits to.

boto3 sends ``POST /`` with ``X-Amz-Target: MTurkRequesterServiceV20170117.<Op>``
and a JSON body, signed with SigV4. Calls that are unsigned or badly signed
get AWS's own errors (``IncompleteSignatureException`` and kin); refusals
go back as HTTP 400 ``RequestError`` with a ``TurkErrorCode``; anything
unexpected is logged and answered as a 500 ``ServiceFault`` without a
traceback. All state is touched from the event loop thread only, one
request at a time, so handlers need no locks.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from crowd_bridge.errors import EndpointAuthError, EndpointRequestError

from .auth import Authenticator, IncomingRequest
from .clock import VirtualClock
from .faults import FAULT, THROTTLE, FaultInjector
from .forms import ITEM_PREFIX, parse_question
from .model import RequesterKey
from .notifications import Notifier
from .operations import dispatch
from .simulation import Simulation
from .state import EndpointState
from .store import StateStore
from .validation import TARGET_PREFIX, RequestValidator

logger = logging.getLogger(__name__)

JSON_TYPE = "application/x-amz-json-1.1"
# Ten years: longer than any HIT can live, so no advance needs more.
MAX_ADVANCE_S = 10 * 365 * 86_400
# The largest call MTurk can take (a 64 KB Question, Test and AnswerKey,
# each possibly escaped six-fold as JSON) fits well under this.
MAX_BODY_BYTES = 2 * 1024 * 1024


@dataclass
class Runtime:
    """What the routes share: state, time, request checks and the store."""

    state: EndpointState
    simulation: Simulation
    validator: RequestValidator
    store: StateStore | None
    crowd_name: str | None
    faults: FaultInjector
    auth: Authenticator
    notifier: Notifier

    def persist(self) -> None:
        """Store what the last request changed, then send its notifications.

        Notifications go out only once stored, so none is lost to a crash;
        those SQS or SNS took are dropped from the store here.
        """
        for event_id in self.notifier.delivered():
            self.state.forget_event(event_id)
        if self.store is not None:
            self.store.flush(self.state)
        else:
            self.state.dirty.clear()
        self.notifier.enqueue(self.state.take_new_events())

    def secret_of(self, access_key_id: str) -> str | None:
        """The secret of an issued access key, or None.

        Keys added to the store while the endpoint runs (by the command
        line) are picked up on first use.
        """
        found = self.state.requester_keys.get(access_key_id)
        if found is None and self.store is not None:
            data = self.store.read("requester", access_key_id)
            if data is not None:
                found = RequesterKey.from_record(data)
                self.state.requester_keys[access_key_id] = found
        return None if found is None else found.secret

    def stats(self) -> dict[str, Any]:
        state = self.state
        counters = dict(state.counters)
        answers = (
            counters["answers_replayed"]
            + counters["answers_simulated"]
            + counters["answers_external"]
        )
        accounts = state.accounts.values()
        return {
            "now": self.simulation.clock.now(),
            "clock": "virtual" if self.simulation.clock.virtual else "real",
            "crowd": self.crowd_name,
            "workers": len(state.workers),
            "hits": len(state.hits),
            "answers_total": answers,
            **counters,
            "paid_rewards_cents": sum(a.paid_rewards_cents for a in accounts),
            "paid_fees_cents": sum(a.paid_fees_cents for a in accounts),
            "paid_bonuses_cents": sum(a.paid_bonuses_cents for a in accounts),
            "requesters": {
                a.access_key_id: {
                    "balance_cents": a.balance_cents,
                    "held_cents": a.held_cents,
                    "paid_rewards_cents": a.paid_rewards_cents,
                    "paid_fees_cents": a.paid_fees_cents,
                    "paid_bonuses_cents": a.paid_bonuses_cents,
                }
                for a in accounts
            },
        }


def _amz_response(status: int, body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=JSON_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def _request_error(error: EndpointRequestError) -> Response:
    return _amz_response(
        400,
        {
            "__type": "RequestError",
            "Message": error.message,
            "TurkErrorCode": error.turk_code,
        },
    )


def _auth_error(error: EndpointAuthError) -> Response:
    return _amz_response(
        error.status, {"__type": error.aws_type, "message": error.message}
    )


def _service_fault() -> Response:
    return _amz_response(
        500,
        {
            "__type": "ServiceFault",
            "Message": "The endpoint failed to process the request; "
            "its log has the details. Try the call again.",
            "TurkErrorCode": "AWS.MechanicalTurk.ServiceFault",
        },
    )


def _injected(failure: str, operation: str) -> Response:
    logger.info("Injected %s on %s", failure, operation)
    if failure == THROTTLE:
        return _amz_response(
            400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        )
    return _service_fault()


async def read_body(request: Request) -> bytes:
    """The request body, refused once it passes MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(int(declared))

    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> EndpointRequestError:
    return EndpointRequestError(
        f"The request body is {size} bytes or more; at most {MAX_BODY_BYTES} "
        "bytes are accepted.",
        "AWS.ParameterOutOfRange",
    )


def incoming(request: Request, body: bytes) -> IncomingRequest:
    """The request as its signer saw it, for SigV4 checks."""
    headers: dict[str, list[str]] = defaultdict(list)
    for name, value in request.scope["headers"]:
        headers[name.decode("latin-1").lower()].append(value.decode("latin-1"))
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    return IncomingRequest(
        method=request.method,
        scheme=request.url.scheme,
        raw_path=raw_path.decode("latin-1").partition("?")[0],
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


def build_routes(runtime: Runtime) -> list[Route]:
    """The endpoint's routes bound to one runtime."""

    async def requester_api(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        try:
            body = await read_body(request)
            requester = runtime.auth.requester(incoming(request, body))
            if prefix != TARGET_PREFIX:
                raise EndpointRequestError(
                    f"The X-Amz-Target {target!r} is not an MTurk Requester API "
                    f"2017-01-17 operation ({TARGET_PREFIX}.<Operation>).",
                    "AWS.MechanicalTurk.UnknownOperation",
                )
            try:
                params = json.loads(body) if body.strip() else {}
            except (ValueError, RecursionError):
                # RecursionError: nesting deeper than any MTurk shape goes.
                raise EndpointRequestError(
                    "The request body is not valid JSON."
                ) from None

            failure = runtime.faults.before()
            if failure in (THROTTLE, FAULT):
                return _injected(failure, operation)

            runtime.simulation.sync()
            now = runtime.simulation.clock.now()
            result = dispatch(
                runtime.state,
                runtime.validator,
                operation,
                requester,
                now,
                params,
                runtime.notifier,
            )
        except EndpointAuthError as error:
            logger.debug("Refused %s: %s", operation, error.message)
            return _auth_error(error)
        except EndpointRequestError as error:
            logger.debug("Refused %s: %s", operation, error.message)
            runtime.persist()
            return _request_error(error)
        except Exception:  # our own bug: a ServiceFault, never a bare 500
            logger.exception("The endpoint failed on %s", operation)
            runtime.persist()
            return _service_fault()
        runtime.persist()
        if runtime.faults.lose_answer():
            # The call took effect; the client only learns that it failed.
            return _injected("lost answer", operation)
        return _amz_response(200, result)

    async def advance(request: Request) -> Response:
        if not isinstance(runtime.simulation.clock, VirtualClock):
            return JSONResponse(
                {"error": "The endpoint runs on the real clock; it cannot advance."},
                status_code=409,
            )
        try:
            body = await request.json()
            seconds = float(body["seconds"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": 'Send a JSON body like {"seconds": 3600}.'}, status_code=400
            )
        if not (math.isfinite(seconds) and 0 <= seconds <= MAX_ADVANCE_S):
            return JSONResponse(
                {"error": f"seconds must be a number from 0 to {MAX_ADVANCE_S}."},
                status_code=400,
            )

        submitted_before = runtime.state.counters["assignments_submitted"]
        steps = runtime.simulation.advance(seconds)
        runtime.persist()
        return JSONResponse(
            {
                "now": runtime.simulation.clock.now(),
                "advanced_s": seconds,
                "steps": steps,
                "assignments_submitted": runtime.state.counters["assignments_submitted"]
                - submitted_before,
            }
        )

    async def stats(request: Request) -> Response:
        runtime.simulation.sync()
        runtime.persist()
        return JSONResponse(runtime.stats())

    async def health(request: Request) -> Response:
        clock = runtime.simulation.clock
        return JSONResponse(
            {
                "status": "ok",
                "clock": "virtual" if clock.virtual else "real",
                "now": clock.now(),
                "crowd": runtime.crowd_name,
            }
        )

    async def fund(request: Request) -> Response:
        try:
            body = await request.json()
            requester, cents = str(body["access_key_id"]), int(body["cents"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": 'Send {"access_key_id": "AKIA...", "cents": 10000}.'},
                status_code=400,
            )
        if cents <= 0:
            return JSONResponse({"error": "cents must be positive."}, status_code=400)
        account = runtime.state.account(requester)
        account.balance_cents += cents
        runtime.state.touch("account", requester)
        runtime.persist()
        return JSONResponse(
            {"access_key_id": requester, "balance_cents": account.balance_cents}
        )

    async def accept(request: Request) -> Response:
        try:
            body = await request.json()
            worker_id, hit_id = str(body["worker_id"]), str(body["hit_id"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"error": 'Send {"worker_id": "A...", "hit_id": "..."}.'},
                status_code=400,
            )
        runtime.simulation.sync()
        why = runtime.state.refusal(worker_id, hit_id)
        if why is not None:
            return JSONResponse({"error": f"Cannot accept: {why}."}, status_code=409)

        now = runtime.simulation.clock.now()
        assignment_id = runtime.state.accept(worker_id, hit_id, now)
        runtime.persist()
        assert assignment_id is not None
        deadline = runtime.state.assignments[assignment_id].deadline
        return JSONResponse({"assignment_id": assignment_id, "deadline": deadline})

    async def external_submit(request: Request) -> Response:
        try:
            raw = await read_body(request)
        except EndpointRequestError as error:
            return HTMLResponse(f"<p>{error.message}</p>", status_code=413)
        body = raw.decode("utf-8", errors="replace")
        fields = dict(parse_qsl(body, keep_blank_values=True))
        fields.update(request.query_params)
        assignment_id = fields.pop("assignmentId", "")
        runtime.simulation.sync()
        now = runtime.simulation.clock.now()
        labels = sum(1 for name in fields if name.startswith(ITEM_PREFIX))
        if not runtime.state.submit(assignment_id, fields, now, external=labels):
            return HTMLResponse(
                "<p>This assignment is not open for submission: it does not exist, "
                "was already submitted or ran past its deadline.</p>",
                status_code=400,
            )
        runtime.persist()
        return HTMLResponse("<p>Thank you; your answers were submitted.</p>")

    async def worker_task(request: Request) -> Response:
        hit = runtime.state.hits.get(request.path_params["hit_id"])
        if hit is None:
            return HTMLResponse("<p>No such HIT.</p>", status_code=404)
        worker_id = request.query_params.get("workerId")
        if worker_id and runtime.state.unmet_requirement(worker_id, hit, preview=True):
            return HTMLResponse(
                "<p>You do not hold the qualifications this HIT requires to "
                "preview it.</p>",
                status_code=403,
            )
        doc = parse_question(hit.question)
        if doc.html is None:
            return HTMLResponse("<p>This HIT has no HTML form.</p>", status_code=404)
        return HTMLResponse(doc.html)

    routes = [
        Route("/", requester_api, methods=["POST"]),
        Route("/_sim/health", health, methods=["GET"]),
    ]
    if runtime.auth.mode == "open" or runtime.simulation.clock.virtual:
        # The simulation's controls and the unauthenticated worker side (a
        # clock to move, every account's totals, accepting and submitting as
        # any worker) exist only in simulations: with open keys or a virtual
        # clock. A signed endpoint on real time serves requesters alone until
        # workers can sign in.
        routes += [
            Route("/_sim/advance", advance, methods=["POST"]),
            Route("/_sim/stats", stats, methods=["GET"]),
            Route("/_sim/accept", accept, methods=["POST"]),
            Route("/_sim/fund", fund, methods=["POST"]),
            Route("/mturk/externalSubmit", external_submit, methods=["POST"]),
            Route("/worker/tasks/{hit_id}", worker_task, methods=["GET"]),
        ]
    return routes


def create_app(runtime: Runtime) -> Starlette:
    app = Starlette(routes=build_routes(runtime))
    app.state.runtime = runtime
    return app
