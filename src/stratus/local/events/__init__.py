"""The one event mechanism: a durable log written with the writes that cause its events (``log``), and delivery
to each subscription, at least once, in order per item, with retries and dead letters (``delivery``)."""
