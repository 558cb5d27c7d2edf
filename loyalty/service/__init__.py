"""Use cases: each owns one transaction and speaks in domain terms.

The API layer imports from here only; the row types it renders are re-exported below.
"""

from loyalty.domain.cart import CartLine, PurchaseRequest
from loyalty.domain.lifecycle import PointsPolicy, Tier, TierChange, TierPolicy
from loyalty.domain.rebates import Rebate
from loyalty.domain.webhooks import RetryPolicy
from loyalty.service.access import create_api_key, principal_for_api_key, revoke_api_key
from loyalty.service.accounts import (
    AdjustOutcome,
    LedgerPage,
    accounts_by_ids,
    adjust_points,
    ledger_page,
)
from loyalty.service.analytics import (
    MAX_ANALYTICS_DAYS,
    AnalyticsReport,
    NudgeTotals,
    OrderTotals,
    RuleFigures,
    analytics_report,
    per_mille,
)
from loyalty.service.audit import verify_ledger
from loyalty.service.catalog import list_products, upsert_products
from loyalty.service.changes import ChangePage, list_changes
from loyalty.service.expiry import Expired, expire_points, lifecycle_forever, run_lifecycle
from loyalty.service.nudges import nudges_for, set_nudge_limits
from loyalty.service.program import get_program, load_seed, set_points_policy
from loyalty.service.purchases import (
    Cart,
    PurchaseOutcome,
    QuoteOutcome,
    quote,
    record_purchase,
    simulate,
)
from loyalty.service.rebates import (
    RebateOffer,
    check_rebate_code,
    codes_of,
    guarded,
    issue_rebate_code,
)
from loyalty.service.returns import ReturnOutcome, ReturnRequest, record_return
from loyalty.service.rewards import (
    Redemption,
    create_reward,
    list_rewards,
    redeem_reward,
    use_voucher,
)
from loyalty.service.rulebook import RuleBook
from loyalty.service.rules import (
    RuleDraft,
    RuleNotFoundError,
    archive_rule,
    create_rule,
    get_rule,
    list_rules,
    update_rule,
)
from loyalty.service.standing import (
    TierStatus,
    expiring_of,
    tier_status,
    unspendable_by_ids,
)
from loyalty.service.throttle import FailureThrottle, RateLimiter
from loyalty.service.tiers import Reviewed, list_tiers, review_tiers, set_tiers
from loyalty.service.views import (
    AccountRow,
    EntryRow,
    LineRow,
    Pool,
    ProductRow,
    PurchaseRow,
    RuleRow,
    Violation,
    lines_by_keys,
    purchases_by_keys,
)
from loyalty.service.webhooks import (
    Delivered,
    WebhookNotFoundError,
    delete_webhook,
    deliver_due,
    deliver_forever,
    list_webhooks,
    register_webhook,
    retry_webhook_deliveries,
)
from loyalty.store.catalog import ProgramRow
from loyalty.store.changes import ChangeRow
from loyalty.store.lots import ExpiringRow
from loyalty.store.nudges import NudgeRow
from loyalty.store.rewards import RewardRow, VoucherRow
from loyalty.store.webhooks import WebhookHealth, WebhookRow

__all__ = [
    "MAX_ANALYTICS_DAYS",
    "AccountRow",
    "AdjustOutcome",
    "AnalyticsReport",
    "Cart",
    "CartLine",
    "ChangePage",
    "ChangeRow",
    "Delivered",
    "EntryRow",
    "Expired",
    "ExpiringRow",
    "FailureThrottle",
    "LedgerPage",
    "LineRow",
    "NudgeRow",
    "NudgeTotals",
    "OrderTotals",
    "PointsPolicy",
    "Pool",
    "ProductRow",
    "ProgramRow",
    "PurchaseOutcome",
    "PurchaseRequest",
    "PurchaseRow",
    "QuoteOutcome",
    "RateLimiter",
    "Rebate",
    "RebateOffer",
    "Redemption",
    "RetryPolicy",
    "ReturnOutcome",
    "ReturnRequest",
    "Reviewed",
    "RewardRow",
    "RuleBook",
    "RuleDraft",
    "RuleFigures",
    "RuleNotFoundError",
    "RuleRow",
    "Tier",
    "TierChange",
    "TierPolicy",
    "TierStatus",
    "Violation",
    "VoucherRow",
    "WebhookHealth",
    "WebhookNotFoundError",
    "WebhookRow",
    "accounts_by_ids",
    "adjust_points",
    "analytics_report",
    "archive_rule",
    "check_rebate_code",
    "codes_of",
    "create_api_key",
    "create_reward",
    "create_rule",
    "delete_webhook",
    "deliver_due",
    "deliver_forever",
    "expire_points",
    "expiring_of",
    "get_program",
    "get_rule",
    "guarded",
    "issue_rebate_code",
    "ledger_page",
    "lifecycle_forever",
    "lines_by_keys",
    "list_changes",
    "list_products",
    "list_rewards",
    "list_rules",
    "list_tiers",
    "list_webhooks",
    "load_seed",
    "nudges_for",
    "per_mille",
    "principal_for_api_key",
    "purchases_by_keys",
    "quote",
    "record_purchase",
    "record_return",
    "redeem_reward",
    "register_webhook",
    "retry_webhook_deliveries",
    "review_tiers",
    "revoke_api_key",
    "run_lifecycle",
    "set_nudge_limits",
    "set_points_policy",
    "set_tiers",
    "simulate",
    "tier_status",
    "unspendable_by_ids",
    "update_rule",
    "upsert_products",
    "use_voucher",
    "verify_ledger",
]
