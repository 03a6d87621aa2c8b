"""Notifications through apprise: a consumer of the event bus of its own.

targets.py: where messages go (stored encrypted or from settings), masked;
messages.py: which events become which notifications;
dispatcher.py: per-target queues, batching, rate limits, retries;
service.py: the supervised task that ties them to the bus.
"""
