"""Who sent a Requester API call: AWS Signature Version 4, or open mode.

In ``sigv4`` mode every call must be signed with an access key the endpoint
issued (see :func:`crowd_bridge.endpoint.server.add_requester`). The
signature is recomputed with botocore's own signer from the request as it
arrived (method, path, query, the headers the client says it signed, the
body and its X-Amz-Date) and compared in constant time, and the date must
be within 15 minutes of real time whatever clock the marketplace runs on.

In ``open`` mode, for simulations, any access key is accepted unchecked and
names the requester, so a dry run needs no key set-up.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import sha256

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from crowd_bridge.errors import ConfigError, EndpointAuthError

logger = logging.getLogger(__name__)

SIGV4 = "sigv4"
OPEN = "open"
AUTH_MODES = (SIGV4, OPEN)
ALGORITHM = "AWS4-HMAC-SHA256"
SIGNING_NAME = "mturk-requester"
MAX_SKEW_S = 15 * 60
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True)
class Authorization:
    """The parts of a SigV4 Authorization header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def incomplete(message: str) -> EndpointAuthError:
    return EndpointAuthError("IncompleteSignatureException", message)


def parse_authorization(header: str) -> Authorization:
    """Split ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise incomplete(
            f"Authorization header requires the {ALGORITHM} algorithm; "
            "sign the call with AWS Signature Version 4."
        )

    fields = dict(_FIELD.findall(rest))
    missing = [
        n for n in ("Credential", "SignedHeaders", "Signature") if not fields.get(n)
    ]
    if missing:
        raise incomplete(
            "Authorization header requires "
            + ", ".join(f"'{name}'" for name in missing)
            + " parameters."
        )

    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        raise incomplete(
            f"Credential should be scoped to a valid region and service: "
            f"'{fields['Credential']}' is not <key>/<date>/<region>/<service>/"
            "aws4_request."
        )
    signed = tuple(fields["SignedHeaders"].lower().split(";"))
    return Authorization(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=signed,
        signature=fields["Signature"],
    )


@dataclass(frozen=True)
class IncomingRequest:
    """A request as it arrived, with nothing normalised away."""

    method: str
    scheme: str
    raw_path: str
    query: str
    # Lower-case header name -> every value it was sent with.
    headers: Mapping[str, Sequence[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def _check_date(amz_date: str, now: float) -> None:
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(
            tzinfo=timezone.utc
        )
    except ValueError:
        raise incomplete(
            f"X-Amz-Date {amz_date!r} is not in the form 20260101T120000Z."
        ) from None

    stamp = signed_at.timestamp()
    now_text = datetime.fromtimestamp(now, timezone.utc).strftime(SIGV4_TIMESTAMP)
    if stamp < now - MAX_SKEW_S:
        raise EndpointAuthError(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {now_text} "
            "(minus 15 min.). Check the clock of the calling machine.",
        )
    if stamp > now + MAX_SKEW_S:
        raise EndpointAuthError(
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {now_text} "
            "(plus 15 min.). Check the clock of the calling machine.",
        )


def expected_signature(
    request: IncomingRequest, auth: Authorization, secret: str, amz_date: str
) -> str:
    """The signature botocore computes for ``request`` with ``secret``."""
    url = f"{request.scheme}://{request.header('host') or 'localhost'}"
    url += request.raw_path + (f"?{request.query}" if request.query else "")
    rebuilt = AWSRequest(method=request.method, url=url, data=request.body)
    for name in auth.signed_headers:
        for value in request.headers.get(name, ()):
            rebuilt.headers.add_header(name, value)
    rebuilt.context["timestamp"] = amz_date

    signer = SigV4Auth(
        Credentials(auth.access_key_id, secret), auth.service, auth.region
    )
    canonical = signer.canonical_request(rebuilt)
    return str(signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt))


class Authenticator:
    """Turns an incoming call into the requester it comes from.

    ``secret_of`` maps an access key id to its secret, or None when the key
    was never issued. ``clock`` is real time (the virtual clock of a
    simulation never decides whether a signature is fresh).
    """

    def __init__(
        self,
        mode: str,
        secret_of: Callable[[str], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in AUTH_MODES:
            raise ConfigError(
                f"The endpoint auth mode {mode!r} is unknown; use 'sigv4' (every "
                "call signed with an issued key) or 'open' (simulations only)."
            )
        self.mode = mode
        self._secret_of = secret_of
        self._clock = clock

    def requester(self, request: IncomingRequest) -> str:
        """The access key id of a correctly signed call; raises EndpointAuthError."""
        header = request.header("authorization")
        if not header:
            raise EndpointAuthError(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token: sign the call with AWS Signature "
                "Version 4 (any boto3 client with credentials does).",
                status=403,
            )
        if self.mode == OPEN:
            match = _CREDENTIAL.search(header)
            if match is None:
                raise incomplete(
                    "Authorization header requires a 'Credential' parameter."
                )
            return match.group(1)
        return self._verify(request, parse_authorization(header))

    def _verify(self, request: IncomingRequest, auth: Authorization) -> str:
        amz_date = request.header("x-amz-date")
        if amz_date is None or "x-amz-date" not in auth.signed_headers:
            raise incomplete("The X-Amz-Date header is required and must be signed.")
        if "host" not in auth.signed_headers:
            raise incomplete("The Host header must be signed.")
        if auth.date != amz_date[:8]:
            raise EndpointAuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to the date of X-Amz-Date: "
                f"{auth.date} is not {amz_date[:8]}.",
            )
        if auth.service != SIGNING_NAME:
            raise EndpointAuthError(
                "InvalidSignatureException",
                f"Credential should be scoped to the service '{SIGNING_NAME}', "
                f"not '{auth.service}'.",
            )
        _check_date(amz_date, self._clock())

        content_hash = request.header("x-amz-content-sha256")
        if (
            content_hash is not None
            and content_hash != sha256(request.body).hexdigest()
        ):
            raise EndpointAuthError(
                "InvalidSignatureException",
                "The X-Amz-Content-SHA256 header does not match the request body.",
            )

        secret = (
            self._secret_of(auth.access_key_id)
            if _ACCESS_KEY.match(auth.access_key_id)
            else None
        )
        if secret is None:
            logger.info("Refused a call signed with unknown key %s", auth.access_key_id)
            raise EndpointAuthError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid: access "
                f"key {auth.access_key_id} was not issued by this endpoint.",
            )

        expected = expected_signature(request, auth, secret, amz_date)
        if not hmac.compare_digest(expected, auth.signature):
            logger.info(
                "Refused a call from requester %s: the signature does not match",
                auth.access_key_id,
            )
            raise EndpointAuthError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature "
                "you provided. Check your AWS Secret Access Key and signing method.",
            )
        return auth.access_key_id
