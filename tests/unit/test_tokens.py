import base64
import json
from datetime import timedelta

import jwt
import pytest

from loyalty.errors import AuthenticationError
from loyalty.tokens import customer_id_from_token, issue_customer_token

SECRET = "a-secret-long-enough-for-every-hmac-algorithm-this-service-allows-x"


def test_round_trip() -> None:
    token = issue_customer_token("c-42", SECRET, "HS256")
    assert customer_id_from_token(token, SECRET, "HS256") == "c-42"


def test_alg_none_is_refused() -> None:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'c-42', 'exp': 4102444800})}."
    with pytest.raises(AuthenticationError):
        customer_id_from_token(token, SECRET, "HS256")


def test_the_configured_algorithm_wins_over_the_tokens_own() -> None:
    token = jwt.encode({"sub": "c-42", "exp": 4102444800}, SECRET, algorithm="HS512")
    with pytest.raises(AuthenticationError):
        customer_id_from_token(token, SECRET, "HS256")


def test_wrong_secret_and_expired_tokens_are_refused() -> None:
    with pytest.raises(AuthenticationError):
        customer_id_from_token(issue_customer_token("c", SECRET, "HS256"), SECRET + "x", "HS256")
    expired = issue_customer_token("c", SECRET, "HS256", ttl=timedelta(seconds=-1))
    with pytest.raises(AuthenticationError, match="expired"):
        customer_id_from_token(expired, SECRET, "HS256")
