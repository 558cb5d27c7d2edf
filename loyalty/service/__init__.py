"""Use cases: each owns one transaction and speaks in domain terms.

The API layer imports from here only; the row types it renders are re-exported below.
"""

from loyalty.domain.cart import CartLine, PurchaseRequest
from loyalty.domain.rebates import Rebate
from loyalty.service.access import create_api_key, principal_for_api_key
from loyalty.service.accounts import (
    AdjustOutcome,
    LedgerPage,
    accounts_by_ids,
    adjust_points,
    ledger_page,
)
from loyalty.service.audit import verify_ledger
from loyalty.service.catalog import list_products, upsert_products
from loyalty.service.nudges import nudges_for, set_nudge_limits
from loyalty.service.program import load_seed
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
from loyalty.service.throttle import FailureThrottle
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
from loyalty.store.nudges import NudgeRow
from loyalty.store.rewards import RewardRow, VoucherRow

__all__ = [
    "AccountRow",
    "AdjustOutcome",
    "Cart",
    "CartLine",
    "EntryRow",
    "FailureThrottle",
    "LedgerPage",
    "LineRow",
    "NudgeRow",
    "Pool",
    "ProductRow",
    "PurchaseOutcome",
    "PurchaseRequest",
    "PurchaseRow",
    "QuoteOutcome",
    "Rebate",
    "RebateOffer",
    "Redemption",
    "ReturnOutcome",
    "ReturnRequest",
    "RewardRow",
    "RuleBook",
    "RuleDraft",
    "RuleNotFoundError",
    "RuleRow",
    "Violation",
    "VoucherRow",
    "accounts_by_ids",
    "adjust_points",
    "archive_rule",
    "check_rebate_code",
    "codes_of",
    "create_api_key",
    "create_reward",
    "create_rule",
    "get_rule",
    "guarded",
    "issue_rebate_code",
    "ledger_page",
    "lines_by_keys",
    "list_products",
    "list_rewards",
    "list_rules",
    "load_seed",
    "nudges_for",
    "principal_for_api_key",
    "purchases_by_keys",
    "quote",
    "record_purchase",
    "record_return",
    "redeem_reward",
    "set_nudge_limits",
    "simulate",
    "update_rule",
    "upsert_products",
    "use_voucher",
    "verify_ledger",
]
