"""The only place that speaks to PostgreSQL: one function per statement."""
