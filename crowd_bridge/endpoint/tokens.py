"""UniqueRequestToken memory: what a call with a token produced, for a day.

MTurk remembers a UniqueRequestToken for 24 hours; a repeat within that
time is refused and names what the first call made, so a client that lost
an answer can retry without creating a second HIT or paying twice.
"""

from __future__ import annotations

from .model import RequestToken

TOKEN_LIFETIME_S = 24 * 3600
# Expired tokens are swept whenever the table grows by this many.
TOKEN_SWEEP_EVERY = 1000


class TokenMemory:
    """The token table of :class:`EndpointState`, as a mixin."""

    tokens: dict[tuple[str, str, str], RequestToken]

    def touch(self, kind: str, key: str) -> None:
        raise NotImplementedError

    def token_result(
        self, requester: str, operation: str, token: str | None, now: float
    ) -> str | None:
        """What an earlier call with this UniqueRequestToken produced, if any."""
        if token is None:
            return None
        found = self.tokens.get((requester, operation, token))
        if found is None or now - found.created >= TOKEN_LIFETIME_S:
            return None
        return found.result

    def remember_token(
        self, requester: str, operation: str, token: str | None, now: float, result: str
    ) -> None:
        if token is None:
            return
        if len(self.tokens) % TOKEN_SWEEP_EVERY == TOKEN_SWEEP_EVERY - 1:
            self._forget_old_tokens(now)
        self.tokens[(requester, operation, token)] = RequestToken(
            requester, operation, token, now, result
        )
        self.touch("token", f"{requester}|{operation}|{token}")

    def _forget_old_tokens(self, now: float) -> None:
        expired = [
            key
            for key, found in self.tokens.items()
            if now - found.created >= TOKEN_LIFETIME_S
        ]
        for key in expired:
            del self.tokens[key]
            self.touch("token", "|".join(key))
