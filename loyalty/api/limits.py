"""Guards that refuse a request before it costs anything: a cost ceiling on what a query could
return, and a per-caller rate limit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension, ValidationCache

PAGE_ARGUMENTS = ("first", "limit")
# A list without a page size is counted as this many items: the ones the schema has are short
# (rules, rewards, tiers, a purchase's lines), and a guess keeps nesting them from being free.
LIST_GUESS = 10
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
TOO_LARGE = "QUERY_TOO_LARGE"
# The largest query in the README has 100 tokens in 650 characters; parsing costs about 12 us
# a token, so these bound what an unparseable query can cost to about one ordinary request.
MAX_QUERY_CHARS = 10_000
MAX_TOKENS = 1_000
MAX_EXPANDED_FIELDS = 2_000
RATE_LIMITED = "RATE_LIMITED"


def expanded_size(document: DocumentNode) -> int:
    """How many fields the document selects once every fragment is spread out. Counted with a
    memo, so a fragment that spreads another twice, twenty deep, takes microseconds to measure
    instead of the seconds that validating or walking it would."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, int] = {}
    visiting: set[str] = set()

    def size(selections: SelectionSetNode) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += 1 + (size(selection.selection_set) if selection.selection_set else 0)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in memo and name not in visiting and name in fragments:
                    visiting.add(name)  # a cycle is refused by validation; here it counts 0
                    memo[name] = size(fragments[name].selection_set)
                    visiting.discard(name)
                total += memo.get(name, 0)
        return total

    return sum(
        size(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    )


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """How many objects the operation could return at most: each field counts once per item
    of every list around it, a list counting as its `first`/`limit` (or its connection's) or
    as LIST_GUESS. Walks the document with fragments spread, so check expanded_size first."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    given = dict(variables or {})
    for definition in operation.variable_definitions or ():
        default = definition.default_value
        name = definition.variable.name.value
        if isinstance(default, IntValueNode) and given.get(name) is None:
            given[name] = int(default.value)
    walk = _Walk(schema, fragments, given)
    return walk.cost(root, operation.selection_set, page=None)


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def cost(self, parent: GraphQLNamedType, selections: SelectionSetNode, page: int | None) -> int:
        """`page` is the size a connection's page argument gives the lists inside it (edges)."""
        total = 0
        for node, on in self._fields(parent, selections):
            fields = on.fields if isinstance(on, GraphQLObjectType | GraphQLInterfaceType) else {}
            field = fields.get(node.name.value)
            if field is None:  # __typename, or introspection (off outside development)
                continue
            returns = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
            size = self._page_size(field, node)
            if isinstance(returns, GraphQLList):
                items, inner_page = size or page or LIST_GUESS, None
            else:
                items, inner_page = 1, size
            child = 0
            if node.selection_set is not None:
                child = self.cost(get_named_type(field.type), node.selection_set, inner_page)
            total += items * (1 + child)
        return total

    def _fields(
        self, parent: GraphQLNamedType, selections: SelectionSetNode
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        """The fields selected, fragments spread, each with the type it is selected on."""
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                continue
            on = self.schema.get_type(condition.name.value) if condition else parent
            if on is not None:
                yield from self._fields(on, inner)

    def _page_size(self, field: GraphQLField, node: FieldNode) -> int | None:
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        sizes = []
        for name in PAGE_ARGUMENTS:
            if name not in field.args:
                continue
            value: Any = field.args[name].default_value
            literal = given.get(name)
            if isinstance(literal, IntValueNode):
                value = int(literal.value)
            elif isinstance(literal, VariableNode):
                value = self.variables.get(literal.name.value, value)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # GraphQL takes 100.0 for an Int, so the cost must too
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(value)
        return max(1, *sizes) if sizes else None


class ValidationGuard(ValidationCache):
    """Validation (cached), refused up front for a document that spreads out too far:
    graphql-core's validators, like the cost walk, visit every spread copy."""

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        size = expanded_size(document) if document is not None else 0
        if size > MAX_EXPANDED_FIELDS:
            message = (
                f"the query selects {size:,} fields once its fragments are spread and the limit "
                f"is {MAX_EXPANDED_FIELDS:,}"
            )
            error = GraphQLError(message, extensions={"code": TOO_LARGE})
            self.execution_context.pre_execution_errors = [error]
            yield
            return
        yield from super().on_validate()


class QueryCostLimiter(SchemaExtension):
    """Refuses, before any resolver runs, an operation that could return more than max_cost
    objects: a 10,000-entry ledger page, or one list aliased hundreds of times."""

    def __init__(self, *, max_cost: int) -> None:
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            cost = query_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if cost > self.max_cost:
                message = (
                    f"this query could return {cost:,} objects and the limit is "
                    f"{self.max_cost:,}: ask for smaller pages or fewer aliased fields"
                )
                error = GraphQLError(message, extensions={"code": TOO_COMPLEX, "cost": cost})
                context.result = ExecutionResult(data=None, errors=[error])
        yield
