"""The decision engine: pure functions over compiled campaign tables.

No I/O, no asyncio; the clock (epoch milliseconds) and the visitor are passed in.
"""
