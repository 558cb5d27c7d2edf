"""Webhooks in the schema: admins register a URL for kinds of events, list and delete them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from loyalty import errors as domain
from loyalty import service
from loyalty.api import errors
from loyalty.api.auth import IsAdmin
from loyalty.api.context import Info


@strawberry.enum(description="The kinds of events a webhook can receive.")
class WebhookEventType(Enum):
    POINTS_EARNED = "POINTS_EARNED"
    POINTS_REVERSED = "POINTS_REVERSED"
    POINTS_REDEEMED = "POINTS_REDEEMED"
    POINTS_ADJUSTED = "POINTS_ADJUSTED"
    POINTS_EXPIRED = "POINTS_EXPIRED"
    TIER_CHANGED = "TIER_CHANGED"
    CODE_ISSUED = "CODE_ISSUED"
    CODE_REVOKED = "CODE_REVOKED"


@strawberry.type(description="A URL that receives signed events; its secret is never shown.")
class Webhook:
    id: strawberry.ID
    url: str
    event_types: list[WebhookEventType]
    created_at: datetime
    pending_deliveries: int = strawberry.field(
        description="Events waiting for this webhook, across customers."
    )
    last_error: str | None = strawberry.field(
        description="Why the latest failed attempt of a waiting event failed."
    )
    given_up_deliveries: int = strawberry.field(
        default=0,
        description="Events given up after failing for about three days; "
        "retryWebhookDeliveries sends them again.",
    )

    @classmethod
    def of(cls, row: service.WebhookRow, health: service.WebhookHealth | None = None) -> Webhook:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            event_types=[WebhookEventType(kind) for kind in row.event_types],
            created_at=row.created_at,
            pending_deliveries=health.pending if health else 0,
            last_error=health.last_error if health else None,
            given_up_deliveries=health.given_up if health else 0,
        )


@strawberry.type
class WebhookRegistered:
    webhook: Webhook
    secret: str = strawberry.field(
        description="Signs every delivery. Shown only now: store it where the receiver reads it."
    )


@strawberry.type
class WebhookDeleted:
    webhook: Webhook


@strawberry.type
class WebhookDeliveriesRetried:
    webhook: Webhook
    requeued: int = strawberry.field(description="Given-up events queued to be sent again.")


@strawberry.type
class WebhookNotFoundError(errors.Error):
    webhook_id: strawberry.ID


RegisterWebhookResult = Annotated[
    WebhookRegistered | errors.InvalidInputError, strawberry.union("RegisterWebhookResult")
]
DeleteWebhookResult = Annotated[
    WebhookDeleted | WebhookNotFoundError, strawberry.union("DeleteWebhookResult")
]
RetryWebhookDeliveriesResult = Annotated[
    WebhookDeliveriesRetried | WebhookNotFoundError,
    strawberry.union("RetryWebhookDeliveriesResult"),
]


def webhook_id(id: strawberry.ID) -> int:
    """A webhook id from the client; one that cannot exist is simply not found."""
    try:
        number = int(id)
    except ValueError:
        number = 0
    if not 0 < number < 2**63:
        raise service.WebhookNotFoundError(str(id))
    return number


@strawberry.type
class WebhooksQuery:
    @strawberry.field(
        permission_classes=[IsAdmin], description="Registered webhooks, oldest first."
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        rows = await service.list_webhooks(info.context.pool)
        return [Webhook.of(row, health) for row, health in rows]


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Send events of these types to an http(s) URL, signed with a new secret.",
    )
    async def register_webhook(
        self, info: Info, url: str, event_types: list[WebhookEventType]
    ) -> RegisterWebhookResult:
        try:
            row, secret = await service.register_webhook(
                info.context.pool,
                url,
                [kind.value for kind in event_types],
                info.context.actor,
                private_ok=info.context.settings.webhook_private,
            )
        except domain.ValidationError as error:
            return errors.invalid_input(error)
        return WebhookRegistered(webhook=Webhook.of(row), secret=secret)

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Stop sending to a webhook; events still waiting for it are dropped.",
    )
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> DeleteWebhookResult:
        try:
            row = await service.delete_webhook(
                info.context.pool, webhook_id(id), info.context.actor
            )
        except service.WebhookNotFoundError as error:
            return not_found(error)
        return WebhookDeleted(webhook=Webhook.of(row))

    @strawberry.mutation(
        permission_classes=[IsAdmin],
        description="Send a webhook's given-up events again, once its receiver works: each "
        "customer's in order, though after any later ones of theirs already delivered.",
    )
    async def retry_webhook_deliveries(
        self, info: Info, id: strawberry.ID
    ) -> RetryWebhookDeliveriesResult:
        try:
            row, count = await service.retry_webhook_deliveries(
                info.context.pool, webhook_id(id), info.context.actor
            )
        except service.WebhookNotFoundError as error:
            return not_found(error)
        return WebhookDeliveriesRetried(webhook=Webhook.of(row), requeued=count)


def not_found(error: service.WebhookNotFoundError) -> WebhookNotFoundError:
    return WebhookNotFoundError(
        code=error.code, message=error.message, webhook_id=strawberry.ID(error.webhook_id)
    )
