"""The GraphQL API: the only place that imports strawberry."""
