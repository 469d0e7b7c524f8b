"""One MQTT connection: a paho-mqtt 2.x client driven by the asyncio loop.

paho is used directly (not through aiomqtt): the outbox needs the PUBACK of every message id
to delete exactly the rows the broker took, with a window of many messages in flight, and a
fresh paho client per connection, so that nothing is ever replayed from paho's memory — after a
reconnect the outbox alone decides what is sent again, in order.

The socket is watched with `loop.add_reader/add_writer` (paho's "external event loop" hooks);
all paho callbacks therefore run on the event loop thread, except the socket hooks fired by the
blocking `connect()` (DNS, TCP, TLS handshake), which runs in an executor and hands over to the
loop with `call_soon_threadsafe`.
"""
from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ..config.mqtt import MqttConfig, MqttProtocol

log = logging.getLogger("kiosk.mqtt")

AckCallback = Callable[[int, ReasonCode], None]
MessageCallback = Callable[[mqtt.MQTTMessage], None]


class ConnectError(Exception):
    """The broker could not be reached or refused the connection (one line for the log)."""


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def backoff_delay(attempt: int, minimum: float, maximum: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: uniform in [d/2, d] where d = min(maximum, minimum * 2**attempt).

    The jitter spreads the reconnects of a whole site after a broker restart.
    """
    ceiling = min(maximum, minimum * (2 ** min(attempt, 30)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def read_password(path: Optional[Path]) -> Optional[str]:
    """The broker password from `mqtt.password_file` (first line, trailing newline removed)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectError(f"mqtt.password_file {path}: {exc.strerror or exc}") from None
    return text.splitlines()[0] if text else ""


class _BufferedSocket:
    """The broker socket with a read buffer.

    paho reads every packet with three `recv` calls (type, length, body); with a window of PUBACKs
    arriving together that is three system calls per acknowledged message. This reads what is
    there in one call and serves paho's small reads from memory. `pending()` counts the buffered
    bytes (plus TLS's own), so the reader keeps going while data is buffered that the selector
    cannot see.
    """

    READ_SIZE = 65536

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buffer = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._buffer):
            self._buffer = self._sock.recv(max(size, self.READ_SIZE))   # raises BlockingIOError etc. as before
            self._pos = 0
        data = self._buffer[self._pos:self._pos + size]
        self._pos += len(data)
        return data

    def pending(self) -> int:
        tls = getattr(self._sock, "pending", None)
        return len(self._buffer) - self._pos + (tls() if tls is not None else 0)

    def __getattr__(self, name: str) -> Any:   # send, fileno, setblocking, close, getpeercert, ...
        return getattr(self._sock, name)


class _Client(mqtt.Client):
    def _create_socket(self) -> Any:   # paho 2.x: the one place the broker socket is made
        return _BufferedSocket(super()._create_socket())


def build_client(config: MqttConfig, client_id: str, will: Optional[Will] = None) -> mqtt.Client:
    """A paho client with the configured protocol, credentials, TLS and will (blocking: reads files)."""
    v5 = config.protocol == MqttProtocol.v5
    client = _Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                         clean_session=None if v5 else True, reconnect_on_failure=False)
    if config.username is not None:
        client.username_pw_set(config.username, read_password(config.password_file))
    if config.tls:
        try:
            client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None,
                           certfile=str(config.cert_file) if config.cert_file else None,
                           keyfile=str(config.key_file) if config.key_file else None,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConnectError(f"mqtt TLS files (ca_file, cert_file, key_file): {exc}") from None
    if will is not None:
        client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    # The outbox publisher keeps its own window of mqtt.inflight_max; paho must not hold messages back
    # (0 = no limit in paho, which also spares it a scan of its queue on every PUBACK).
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    return client


def _in_daemon_thread(fn: Callable[[], Any]) -> asyncio.Future[Any]:
    """Run blocking `fn` (DNS, TCP connect, TLS handshake) on a daemon thread.

    Not the loop's executor: a connect to an unreachable broker can block for the connect timeout,
    and the process must be able to exit meanwhile (executor threads are joined at exit).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: Optional[BaseException]) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:  # handed to the awaiting coroutine
            result, error = None, exc
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:  # the loop closed in between
                pass

    threading.Thread(target=target, name="mqtt-connect", daemon=True).start()
    return future


class Connection:
    """A connected paho client on the running loop. Create with `await Connection.open(...)`."""

    MISC_PERIOD_S = 1.0

    def __init__(self, client: mqtt.Client, on_message: MessageCallback) -> None:
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._on_message = on_message
        self._acks: dict[int, AckCallback] = {}
        self._connack: asyncio.Future[ReasonCode] = self._loop.create_future()
        self._sock: Any = None
        self.closed = asyncio.Event()
        self.close_reason = ""
        self.close_code: Optional[int] = None      # the broker's reason code when it closed the connection
        self.connected_at = 0.0                    # monotonic time of the CONNACK
        self.refusals = 0                          # PUBACKs with a failure reason on this connection
        self._misc: Optional[asyncio.Task[None]] = None
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write

    @classmethod
    async def open(cls, config: MqttConfig, client_id: str, will: Optional[Will], on_message: MessageCallback,
                   timeout: float = 10.0) -> Connection:
        """Connect, wait for a successful CONNACK; raise ConnectError with the reason otherwise."""
        loop = asyncio.get_running_loop()
        client = await loop.run_in_executor(None, build_client, config, client_id, will)
        self = cls(client, on_message)
        kwargs: dict[str, Any] = {"keepalive": config.keepalive_s}
        if config.protocol == MqttProtocol.v5:
            kwargs["clean_start"] = True
        client.connect_timeout = min(timeout, 5.0)
        connecting = _in_daemon_thread(lambda: client.connect(config.host, config.port, **kwargs))
        try:
            await asyncio.shield(connecting)
        except (OSError, ssl.SSLError, ssl.CertificateError, ValueError) as exc:
            self._drop_socket()
            raise ConnectError(f"cannot connect to {config.host}:{config.port}: {exc}") from None
        except asyncio.CancelledError:
            # The blocking connect goes on in its thread; close whatever it opens once it returns, so no
            # orphan connection is left to the broker (it would take over this client id later).
            connecting.add_done_callback(lambda _: self._discard("cancelled"))
            raise
        self._misc = loop.create_task(self._misc_loop(), name="mqtt-misc")
        try:
            reason = await asyncio.wait_for(asyncio.shield(self._connack), timeout)
        except asyncio.CancelledError:
            self._discard("cancelled")
            raise
        except TimeoutError:
            await self.abort("no CONNACK")
            raise ConnectError(f"{config.host}:{config.port} did not answer the MQTT CONNECT within {timeout:.0f} s") \
                from None
        except ConnectError:
            await self.abort("connection closed during CONNECT")
            raise
        if reason.is_failure:
            await self.abort(f"refused: {reason}")
            raise ConnectError(f"broker {config.host}:{config.port} refused the connection: {reason}")
        return self

    # -- socket hooks (paho "external loop" integration) ------------------------------------------
    def _in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._watch, sock)

    def _watch(self, sock: Any) -> None:
        if sock.fileno() < 0:  # already closed again
            return
        self._sock = sock
        self._loop.add_reader(sock, self._readable)

    def _socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._unwatch, sock)

    def _unwatch(self, sock: Any) -> None:
        try:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        except (ValueError, OSError):  # fd already closed: nothing is registered any more
            pass
        if self._sock is sock:
            self._sock = None

    def _register_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._add_writer, sock)

    def _add_writer(self, sock: Any) -> None:
        if sock.fileno() >= 0:
            self._loop.add_writer(sock, self._writable)

    def _unregister_write(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        self._in_loop(self._remove_writer, sock)

    def _remove_writer(self, sock: Any) -> None:
        try:
            self._loop.remove_writer(sock)
        except (ValueError, OSError):
            pass

    def _readable(self) -> None:
        self._client.loop_read()
        sock = self._client.socket()
        # TLS may hold decrypted bytes the selector cannot see.
        while sock is not None and getattr(sock, "pending", lambda: 0)() > 0:
            self._client.loop_read()
            sock = self._client.socket()

    def _writable(self) -> None:
        self._client.loop_write()

    async def _misc_loop(self) -> None:
        while not self.closed.is_set():
            self._client.loop_misc()
            try:
                await asyncio.wait_for(self.closed.wait(), self.MISC_PERIOD_S)
            except TimeoutError:
                pass

    # -- paho callbacks (loop thread) ------------------------------------------------------------
    def _handle_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                        properties: Any) -> None:
        self.connected_at = time.monotonic()
        if not self._connack.done():
            self._connack.set_result(reason)

    def _handle_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                           properties: Any) -> None:
        self.close_reason = str(reason)
        self.close_code = reason.value
        self._mark_closed()

    def _mark_closed(self) -> None:
        if not self._connack.done():
            self._connack.set_exception(ConnectError(f"connection closed before CONNACK ({self.close_reason})"))
            self._connack.exception()  # nobody may await it any more (cancelled open): no "never retrieved" log
        self.closed.set()
        self._acks.clear()

    def _handle_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Any) -> None:
        if reason.is_failure:
            self.refusals += 1
        callback = self._acks.pop(mid, None)
        if callback is not None:
            callback(mid, reason)

    def _handle_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._on_message(message)
        except Exception:  # a bad message must never take the connection down
            log.exception("mqtt: error while handling a message on %s", message.topic)

    def _handle_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode],
                          properties: Any) -> None:
        for reason in reasons:
            if reason.is_failure:
                log.error("mqtt: the broker refused a subscription (mid %d): %s", mid, reason)

    # -- public API --------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return not self.closed.is_set()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool,
                on_ack: Optional[AckCallback] = None) -> int:
        """Queue one message; `on_ack(mid, reason)` runs on PUBACK (QoS 1) or once written (QoS 0)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectError(f"publish failed: {mqtt.error_string(info.rc)}")
        if on_ack is not None:
            self._acks[info.mid] = on_ack
        return info.mid

    async def publish_wait(self, topic: str, payload: bytes, qos: int, retain: bool, timeout: float) -> bool:
        """Publish and wait for the acknowledgement; False on timeout, refusal or a lost connection."""
        done: asyncio.Future[bool] = self._loop.create_future()

        def acked(mid: int, reason: ReasonCode) -> None:
            if not done.done():
                done.set_result(not reason.is_failure)
        try:
            self.publish(topic, payload, qos, retain, acked)
        except ConnectError:
            return False
        closed: asyncio.Future[Any] = asyncio.ensure_future(self.closed.wait())
        try:
            finished, _ = await asyncio.wait({done, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        return done in finished and done.result()

    def subscribe(self, filters: list[tuple[str, int]]) -> None:
        result, _ = self._client.subscribe(filters)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectError(f"subscribe failed: {mqtt.error_string(result)}")

    async def close(self, timeout: float = 0.5) -> None:
        """Send DISCONNECT (the broker then discards the will) and wait briefly for it to go out."""
        if not self.closed.is_set():
            self._client.disconnect()
            try:
                await asyncio.wait_for(self.closed.wait(), timeout)
            except TimeoutError:
                pass
        await self.abort("closed")

    async def abort(self, reason: str) -> None:
        """Drop the connection without DISCONNECT (the broker will publish the will)."""
        misc = self._misc
        self._discard(reason)
        if misc is not None:
            try:
                await misc
            except asyncio.CancelledError:
                pass

    def _discard(self, reason: str) -> None:
        """abort() without waiting: close the socket, mark closed, stop the misc loop, detach the hooks."""
        self._drop_socket()
        if not self.closed.is_set():
            self.close_reason = reason
            self._mark_closed()
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        # paho closes its socket again when garbage-collected; nothing must call back into the loop then.
        for hook in ("on_socket_open", "on_socket_close", "on_socket_register_write", "on_socket_unregister_write"):
            setattr(self._client, hook, None)

    def _drop_socket(self) -> None:
        sock = self._client.socket()
        if sock is not None:
            self._unwatch(sock)
            try:
                sock.close()
            except OSError:
                pass


async def probe(config: MqttConfig, client_id: str, timeout: float = 5.0) -> Optional[str]:
    """For `kiosk selftest`: None when the broker accepts a connection with these settings, else why not.

    Use a client id other than the daemon's (the broker would drop the daemon's session otherwise).
    """
    try:
        conn = await Connection.open(config, client_id, None, lambda message: None, timeout=timeout)
    except ConnectError as exc:
        return str(exc)
    await conn.close(timeout=0.5)
    return None
