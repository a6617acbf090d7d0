"""PostgreSQL: engines, migrations, the text the hub stores and the retention statement."""
