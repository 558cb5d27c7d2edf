"""Rewards: points buy a voucher, which a store then honours once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from loyalty.domain.access import SYSTEM, Actor
from loyalty.domain.cart import validate_identifier
from loyalty.domain.codes import VOUCHER, new_code, parse_code, shown
from loyalty.errors import (
    InsufficientPointsError,
    RewardNotFoundError,
    ValidationError,
    VoucherUnusableError,
)
from loyalty.service import lots
from loyalty.service.changes import record_change
from loyalty.service.idempotency import claim_or_replay, fingerprint, save_result
from loyalty.service.rulebook import RuleBook
from loyalty.store import accounts, ledger, outbox, rewards
from loyalty.store.database import Connection, Pool, connection, transaction
from loyalty.store.rewards import RewardRow, VoucherRow

REWARD_SCOPE = "reward"
POINTS_REDEEMED = "POINTS_REDEEMED"
CODE_ISSUED = "CODE_ISSUED"
MAX_COST = 100_000_000


@dataclass(frozen=True)
class Redemption:
    voucher: VoucherRow
    reward: RewardRow
    balance: int
    replayed: bool


async def create_reward(
    pool: Pool,
    name: str,
    description: str,
    points_cost: int,
    days_valid: int = 30,
    actor: Actor = SYSTEM,
) -> RewardRow:
    name = validate_identifier("name", name)
    if len(description) > 500:
        raise ValidationError("description", "a description is at most 500 characters")
    if not 0 < points_cost <= MAX_COST:
        raise ValidationError("pointsCost", f"pointsCost must be 1 to {MAX_COST}")
    if not 1 <= days_valid <= 366:
        raise ValidationError("daysValid", "daysValid must be 1 to 366")
    async with transaction(pool) as conn:
        reward = await rewards.insert_reward(conn, name, description, points_cost, days_valid)
        await record_change(conn, actor, "createReward", ("reward", str(reward.id)), None, reward)
        return reward


async def list_rewards(pool: Pool) -> list[RewardRow]:
    async with connection(pool) as conn:
        return await rewards.list_rewards(conn)


async def redeem_reward(
    pool: Pool, book: RuleBook, customer_id: str, reward_id: int, idempotency_key: str
) -> Redemption:
    """Spend the reward's points and issue its voucher, or refuse: never below zero.

    Concurrent redemptions take turns on the account row, so a balance that covers three
    pays for exactly three.
    """
    customer_id = validate_identifier("customerId", customer_id)
    idempotency_key = validate_identifier("idempotencyKey", idempotency_key)
    request_hash = fingerprint([customer_id, reward_id])
    # A key is the customer's own: two customers' apps may well pick the same one.
    key = customer_key(customer_id, idempotency_key)
    tz = (await book.current()).timezone
    async with transaction(pool) as conn:
        stored = await claim_or_replay(
            conn, REWARD_SCOPE, key, customer_id, request_hash, shown_key=idempotency_key
        )
        replayed = stored is not None
        if stored is None:
            stored = await _redeem(conn, tz, customer_id, reward_id, key)
        voucher = await rewards.get_voucher(conn, stored["code"]) if "code" in stored else None
        reward = await rewards.get_reward(conn, reward_id)
    # Raised after the commit, so the refusal stays recorded under its key.
    if "refused" in stored:
        raise InsufficientPointsError(stored["refused"]["balance"], stored["refused"]["requested"])
    assert voucher is not None and reward is not None
    return Redemption(voucher, reward, stored["balance"], replayed)


def customer_key(customer_id: str, idempotency_key: str) -> str:
    """The stored form of a customer's own key (0011_customer_keys.sql writes the same)."""
    return f"{customer_id}\x1f{idempotency_key}"


async def _redeem(
    conn: Connection, tz: tzinfo, customer_id: str, reward_id: int, key: str
) -> dict[str, Any]:
    reward = await rewards.get_reward(conn, reward_id)
    if reward is None or not reward.active:
        raise RewardNotFoundError(str(reward_id))
    # A customer never seen has nothing to spend, and a refusal opens no account for them.
    account = await accounts.lock_account(conn, customer_id)
    now = datetime.now(UTC)
    available = 0
    if account is not None:
        expired = await lots.expire_due(conn, tz, customer_id, account.balance, now)
        # Points still inside the return window are not spendable yet.
        available = expired.balance - await lots.unspendable(conn, customer_id, now)
    if available < reward.points_cost:
        result: dict[str, Any] = {
            "refused": {"balance": available, "requested": reward.points_cost}
        }
    else:
        balance = await accounts.change_balance(conn, customer_id, -reward.points_cost)
        entry = ledger.NewEntry("redeem", -reward.points_cost, reason=reward.name)
        await ledger.insert_entries(conn, customer_id, [entry], balance)
        await lots.debit(conn, customer_id, reward.points_cost, now)
        expires = now + timedelta(days=reward.days_valid)
        voucher = await rewards.insert_voucher(
            conn, new_code(VOUCHER).canonical, customer_id, reward, expires
        )
        redeemed = {"points": reward.points_cost, "balance": balance, "rewardId": reward.id}
        issued = {"code": shown(voucher.code), "kind": "VOUCHER", "rewardId": reward.id}
        await outbox.add_events(
            conn, customer_id, [(POINTS_REDEEMED, redeemed), (CODE_ISSUED, issued)]
        )
        result = {"code": voucher.code, "balance": balance}
    await save_result(conn, REWARD_SCOPE, key, result)
    return result


async def use_voucher(pool: Pool, text: str, store_id: str) -> tuple[VoucherRow, RewardRow]:
    """Honour a voucher at a store, once."""
    code = parse_code(text)
    if code.prefix != VOUCHER:
        raise ValidationError("code", f"a voucher starts with {VOUCHER}-")
    store_id = validate_identifier("storeId", store_id)
    async with transaction(pool) as conn:
        used = await rewards.use_voucher(conn, code.canonical, store_id)
        if used is None:
            found = await rewards.get_voucher(conn, code.canonical)
            raise VoucherUnusableError(str(code), _why(found))
        reward = await rewards.get_reward(conn, used.reward_id)
    assert reward is not None
    return used, reward


def _why(voucher: VoucherRow | None) -> str:
    if voucher is None:
        return "there is no such voucher"
    if voucher.state == "redeemed":
        return "it has already been used"
    if voucher.state == "revoked":
        return "it was withdrawn"
    return f"it expired on {voucher.expires_at:%Y-%m-%d}"
