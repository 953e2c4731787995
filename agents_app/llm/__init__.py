"""LLM gateway: providers through their official SDKs, routing with fallback, circuit
breakers, spend ledger and budgets, a catalog-aware response cache, tool calling and
the Round Table.

Entry points for callers (task runner, tools, commands):

* ``gateway.complete(request) -> Completion``
* ``tool_loop.run_with_tools(request, execute_tool=..., max_steps=...) -> ToolRun``
* ``round_table.run_round_table(prompt=..., ...) -> RoundTableResult``
* ``cache.invalidate_products(ids)`` when product data changes
"""
