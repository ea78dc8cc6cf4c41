"""The Redis broker transport: kombu's, with a held message never lost to a Redis restart.

Installed by ``config/celery.py`` before the Celery app is made.
"""

import atexit
import logging
import os
import threading

from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis
from kombu.utils.div import emergency_dump_state
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# --- Redis broker: a Redis restart must neither stop the worker nor lose what it holds --------
#
# Why (celery and kombu 5.7.0, redis-py 8.1.0): a worker holding an unacknowledged message (a
# countdown/ETA retry is held, prefetched, until it is due) exited when Redis was killed, with
# "Unrecoverable error: AttributeError: 'NoneType' object has no attribute 'hostname'", and the
# message was lost. The sequence, in site-packages:
#
# 1. the consumer's BRPOP fails; celery/worker/consumer/consumer.py
#    ``on_connection_error_after_connected`` calls ``connection.collect()`` (l. 476): closing the
#    channel first reads the pending BRPOP reply (kombu/transport/redis.py ``Channel.close``,
#    l. 1892-1896, only ``Empty`` is caught), which raises ConnectionError (swallowed) before the
#    channel is marked closed or its messages restored; then ``collect()`` drops the transport's
#    client (kombu/connection.py ``_do_close_transport``, l. 429: ``self._transport.client = None``);
# 2. the ``ignore_errors(connection, connection.close)`` that follows (consumer.py l. 487) closes
#    the same channel again: kombu/transport/virtual/base.py ``Channel.close`` (l. 806) ->
#    ``QoS.restore_unacked_once`` (l. 300) -> redis.py ``QoS.restore_unacked`` (l. 494) ->
#    ``Channel.conn_or_acquire`` -> ``pool`` -> ``_get_pool`` -> ``Channel._connparams``, which
#    reads ``self.connection.client.hostname`` (l. 1957-1959) on a client that is now None. An
#    AttributeError is not a connection error: ``ignore_errors`` lets it through and the worker
#    stops. (When the channel is not in BRPOP, the restore runs while Redis is down instead: a
#    ConnectionError, swallowed, and the worker's copy of the message is dropped just the same.)
#
# The held message is then lost: the worker's copy is gone, and the copy in Redis's ``unacked``
# hash (only if Redis persisted it) comes back after the visibility timeout (4 h here, through
# ``QoS.restore_visible``); a Redis restarted without its data has none. No upstream issue for this
# exact path (searched); related: https://github.com/celery/kombu/issues/582 (the same
# AttributeError from another close path), https://github.com/celery/kombu/issues/970
# (``restore_unacked_once`` failing at shutdown, tasks lost), https://github.com/celery/celery/issues/1307
# (ETA tasks lost when Redis restarts; closed without a fix).
#
# The workaround, a subclass of kombu's Redis transport registered for ``redis://`` and
# ``rediss://`` (``TRANSPORT_ALIASES``; nothing else changes):
# - ``_connparams`` raises redis's ConnectionError instead of the AttributeError when the channel
#   has lost its connection, so the callers' error handling (``ignore_errors``) treats it as one;
# - ``restore_unacked`` never drops a message: what it cannot restore now (Redis unreachable) the
#   process keeps (``_deferred``) and restores as soon as it has Redis again: when its next channel
#   connects (the consumer's reconnection, about 2 s after Redis is back) and otherwise on the
#   event loop's ``restore_visible`` call (every 10 s). A message is restored from the ``unacked``
#   hash when Redis still has it (removed from it, as kombu's ``restore_by_tag`` does), else from
#   the worker's copy (Redis lost its data). The worker then receives it again and a held retry
#   runs at its ETA (at once if the ETA passed during the outage). One duplicate is possible:
#   another worker's ``restore_visible`` restored the hash's copy first, which takes an outage
#   longer than the visibility timeout. Messages still unrestored at exit are logged and dumped
#   with kombu's ``emergency_dump_state``, as kombu does with messages it cannot restore.

_deferred: list[tuple[str, str]] = []  # (delivery tag, JSON [payload, exchange, routing key])
_deferred_lock = threading.RLock()  # re-entrant: a garbage-collected channel's QoS restores too
_restoring = threading.Lock()  # one restore at a time, else a message could be pushed twice
os.register_at_fork(after_in_child=_deferred.clear)  # a forked pool process must not restore them


def _restore_deferred(channel, client=None) -> None:
    """Put the unacknowledged messages kept in ``_deferred`` back on their queues, through
    ``channel`` (kombu's ``QoS.restore_by_tag``, with the worker's copy when Redis lost its own);
    those it cannot restore yet stay for the next call."""
    if not _deferred or not _restoring.acquire(blocking=False):
        return
    try:
        with _deferred_lock:
            entries = list(_deferred)
        done, copies = set(), []
        try:
            with channel.conn_or_acquire(client) as client:
                for tag, entry in entries:
                    _, exchange, routing_key = loads(entry)
                    if not channel._lookup(exchange, routing_key):
                        continue  # its queue is not bound (yet): the next call tries again

                    def restore(pipe, tag=tag, entry=entry):
                        stored = pipe.hget(channel.unacked_key, tag)
                        pipe.multi()
                        pipe.zrem(channel.unacked_index_key, tag).hdel(channel.unacked_key, tag)
                        if not stored:
                            copies.append(tag)
                        payload, ex, rk = loads(bytes_to_str(stored) if stored else entry)
                        channel._do_restore_message(payload, ex, rk, pipe)

                    client.transaction(restore, channel.unacked_key)
                    done.add(tag)
        except RedisTransport.connection_errors + RedisTransport.channel_errors as exc:
            logger.warning(
                "Redis unreachable (%r): %d unacknowledged message(s) kept by this "
                "process, restored when it is back",
                exc,
                len(entries) - len(done),
            )
        if done:
            with _deferred_lock:
                _deferred[:] = [item for item in _deferred if item[0] not in done]
            logger.info(
                "Restored %d unacknowledged message(s) to Redis (%d from this process's copy: "
                "Redis had lost them)",
                len(done),
                len(set(copies) & done),
            )
    finally:
        _restoring.release()


class RedisQoS(kombu_redis.QoS):
    def restore_unacked(self, client=None):
        entries = [
            (
                tag,
                dumps(
                    [message._raw, message.delivery_info["exchange"], message.delivery_info["routing_key"]]
                ),
            )
            for tag, message in self._delivered.items()
        ]
        self._delivered.clear()
        with _deferred_lock:
            _deferred.extend(entries)
        _restore_deferred(self.channel, client)

    def restore_visible(self, *args, **kwargs):
        _restore_deferred(self.channel)
        return super().restore_visible(*args, **kwargs)


class RedisChannel(kombu_redis.Channel):
    QoS = RedisQoS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)  # has pinged Redis
        _restore_deferred(self)

    def _connparams(self, asynchronous=False):
        if self.connection is None or self.connection.client is None:
            raise kombu_redis.get_redis_ConnectionError()("the channel's connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


@atexit.register
def _report_unrestored() -> None:
    if _deferred:
        logger.error(
            "Exiting with %d unacknowledged message(s) not restored to Redis: %s",
            len(_deferred),
            [tag for tag, _ in _deferred],
        )
        emergency_dump_state([loads(entry) for _, entry in _deferred])


def install() -> None:
    """Use ``RedisTransport`` for every ``redis://`` and ``rediss://`` broker URL."""
    for scheme in ("redis", "rediss"):  # a path, not the class: kombu calls a callable alias
        kombu_transports.TRANSPORT_ALIASES[scheme] = "config.broker:RedisTransport"
        kombu_transports._transport_cache.pop(scheme, None)  # in case it was resolved already
