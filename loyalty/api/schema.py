"""The schema, its guard rails, and the ASGI view that builds each request's context."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import timedelta
from functools import lru_cache
from typing import Protocol

import orjson
import strawberry
from cross_web import AsyncHTTPRequestAdapter
from graphql import FieldNode, GraphQLError, GraphQLSchema, get_operation_ast
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.http import GraphQLRequestData
from strawberry.schema.config import StrawberryConfig
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.unset import UnsetType

from loyalty.api import errors
from loyalty.api.auth import resolve_principal
from loyalty.api.context import Context, Loaders
from loyalty.api.limits import (
    MAX_QUERY_CHARS,
    MAX_TOKENS,
    RATE_LIMITED,
    TOO_LARGE,
    QueryCostLimiter,
    ValidationGuard,
)
from loyalty.api.mutations import Mutation
from loyalty.api.queries import Query
from loyalty.api.scalars import SCALARS
from loyalty.api.subscriptions import LiveContext, Subscription
from loyalty.config import Settings
from loyalty.errors import UnavailableError
from loyalty.service import FailureThrottle, Pool, RateLimiter, RuleBook
from loyalty.service.live import LiveHub


class Runtime(Protocol):
    """What the app opens in its lifespan and every request uses."""

    @property
    def pool(self) -> Pool: ...

    @property
    def rulebook(self) -> RuleBook: ...

    @property
    def throttle(self) -> FailureThrottle: ...

    @property
    def limiter(self) -> RateLimiter: ...

    @property
    def live(self) -> LiveHub: ...


class OperationLog(SchemaExtension):
    """Leaves the operation's name and outcome where the request log line picks them up."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        state = context.request.scope.setdefault("state", {})
        state["operation"] = self.execution_context.operation_name or "anonymous"
        state["field"] = self._root_field()
        result = self.execution_context.result
        state["outcome"] = "error" if result is not None and result.errors else "ok"

    def _root_field(self) -> str:
        """The schema field the operation calls: a label from a closed set, for metrics."""
        document = self.execution_context.graphql_document
        if document is None:
            return "unparsed"
        known = _root_fields(self.execution_context.schema._schema)
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None:
            return "unknown"
        names = {
            selection.name.value
            for selection in operation.selection_set.selections
            if isinstance(selection, FieldNode)
        }
        names &= known
        if len(names) > 1:
            return "multiple"
        return names.pop() if names else "unknown"


@lru_cache(maxsize=8)
def _root_fields(schema: GraphQLSchema) -> frozenset[str]:
    """Every field a query, mutation or subscription may start with: worked out once."""
    roots = (schema.query_type, schema.mutation_type, schema.subscription_type)
    return frozenset(name for root in roots if root is not None for name in root.fields)


class LoyaltySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Quiet: ErrorPolicy logs the bugs; the rest are the client's own mistakes."""


def build_schema(
    *,
    max_depth: int = 10,
    max_cost: int = 5_000,
    mask_errors: bool = True,
    introspection: bool = True,
) -> strawberry.Schema:
    # The limiters' rule classes are made once: the validation cache is keyed by them, and
    # fresh classes on every request would make every request miss it.
    guards = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=30).validation_rules,
    ]
    if not introspection:
        # Clients build from the committed SDL; answering __schema costs a lot and tells a
        # stranger every operation there is.
        guards.append(NoSchemaIntrospectionCustomRule)
    return LoyaltySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[errors.InvalidInputError],
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
        extensions=[
            lambda: errors.ErrorPolicy(mask=mask_errors),
            OperationLog,
            lambda: AddValidationRules(guards),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: QueryCostLimiter(max_cost=max_cost),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationGuard(maxsize=256),
        ],
    )


class LoyaltyGraphQL(GraphQL[Context, None]):
    def __init__(self, runtime: Runtime, settings: Settings) -> None:
        super().__init__(
            build_schema(
                max_depth=settings.max_query_depth,
                max_cost=settings.max_query_cost,
                mask_errors=not settings.development,
                introspection=settings.introspection,
            ),
            graphql_ide="graphiql" if settings.development else None,
            allow_queries_via_get=False,
            # Only the maintained protocol; the legacy graphql-ws one is refused.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=10,
        )
        self.runtime = runtime
        self.settings = settings

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        # Both checked before the query is even parsed, so abuse costs as little as possible.
        if len(request_data.query or "") > MAX_QUERY_CHARS:
            message = (
                f"the query is {len(request_data.query or ''):,} characters long and the limit "
                f"is {MAX_QUERY_CHARS:,}: send the values as variables"
            )
            error = GraphQLError(message, extensions={"code": TOO_LARGE})
            request.scope.setdefault("state", {})["outcome"] = "too_large"
            return ExecutionResult(data=None, errors=[error])
        wait = self.runtime.limiter.wait_for(context.rate_key)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = str(retry)
            request.scope.setdefault("state", {})["outcome"] = "rate_limited"
            message = (
                f"too many requests from this caller: {self.settings.rate_limit:g} a second "
                f"are allowed; try again in {retry} s"
            )
            extensions = {"code": RATE_LIMITED, "retryAfterSeconds": retry}
            return ExecutionResult(data=None, errors=[GraphQLError(message, extensions=extensions)])
        result = await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if any(isinstance(e.original_error, UnavailableError) for e in result.errors or ()):
            # The database was away for part of this request: the whole of it may be sent
            # again, which a 200 cannot say to a client's retry logic or a load balancer.
            sub_response.status_code = 503
            sub_response.headers["Retry-After"] = "1"
        return result

    def decode_json(self, data: str | bytes) -> object:
        body = orjson.loads(data)  # its JSONDecodeError is json's: strawberry answers 400
        if not isinstance(body, dict):
            # strawberry answers a JSONDecodeError with 400; anything else would be a 500
            raise json.JSONDecodeError("the request body must be a JSON object", str(data), 0)
        return body

    def encode_json(self, data: object) -> str:
        # Text, not bytes: websocket messages must go out as text frames.
        return orjson.dumps(data).decode()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        principal, problem = await resolve_principal(
            request.headers.get("authorization"), self.runtime.pool, self.settings
        )
        return LiveContext(
            request=request,
            response=response,
            pool=self.runtime.pool,
            rulebook=self.runtime.rulebook,
            throttle=self.runtime.throttle,
            settings=self.settings,
            principal=principal,
            auth_problem=problem,
            loaders=Loaders(self.runtime.pool),
            live=self.runtime.live,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        await self._authenticate_socket(context)
        return await super().on_ws_connect(context)

    async def _authenticate_socket(self, context: Context) -> None:
        """Browsers cannot set headers on a websocket: the credential may come in
        connection_init's payload, {"Authorization": "Bearer ..."}, instead."""
        assert isinstance(context, LiveContext)
        given = {key.lower(): value for key, value in context.connection_params.items()}
        authorization = given.get("authorization")
        if authorization is None:
            return
        if not isinstance(authorization, str):
            context.principal = None
            context.auth_problem = "the Authorization parameter must read 'Bearer <credential>'"
            return
        context.principal, context.auth_problem = await resolve_principal(
            authorization, self.runtime.pool, self.settings
        )
