"""Customer tokens: JWTs whose subject is the customer id, with one fixed algorithm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from loyalty.errors import AuthenticationError

ISSUER = "loyalty"


def issue_customer_token(
    customer_id: str, secret: str, algorithm: str, ttl: timedelta = timedelta(days=30)
) -> str:
    now = datetime.now(UTC)
    claims = {"sub": customer_id, "iss": ISSUER, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=algorithm)


def customer_id_from_token(token: str, secret: str, algorithm: str) -> str:
    """The token's subject; the algorithm is ours, never the one the token names."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthenticationError("the customer token has expired") from error
    except jwt.InvalidTokenError as error:
        raise AuthenticationError("the customer token is not valid") from error
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the customer token has no subject")
    return subject
