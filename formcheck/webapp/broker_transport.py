"""The Redis transport for `formcheck worker`, made to survive a bad message (issue 17, L4).

kombu decodes each item it pops from the Redis list as JSON inside the worker's event loop; one item that is not
a kombu message (anyone who can write to the Redis list can push one) raised out of the loop and stopped the
worker for good. Here such an item is logged and dropped (it was already popped: nothing to reject) and the
worker reads the next one. celery_app uses this transport for redis:// broker URLs.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)

BAD_MESSAGE_LOG_CHARS = 80  # of the decoder's complaint, in the log line (enough to recognise it, not a flood)


class SafeChannel(kombu_redis.Channel):
    """Drops (with a log line) list items that are not kombu messages instead of raising out of the loop."""

    def _brpop_read(self, **options: Any) -> Any:
        try:
            return super()._brpop_read(**options)
        except (ValueError, TypeError, KeyError) as exc:  # JSONDecodeError is a ValueError
            log.error(
                "dropped a message on the broker that is not a formcheck job (%s)", str(exc)[:BAD_MESSAGE_LOG_CHARS]
            )
            return False

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        while True:
            try:
                return super()._get(queue)
            except (ValueError, TypeError, KeyError) as exc:
                log.error(
                    "dropped a message on queue %s that is not a formcheck job (%s)",
                    queue,
                    str(exc)[:BAD_MESSAGE_LOG_CHARS],
                )


class SafeRedisTransport(kombu_redis.Transport):
    Channel = SafeChannel
