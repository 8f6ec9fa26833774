"""Socket.IO packets read so that nothing a client sends can raise."""

from __future__ import annotations

import json
import sys
from typing import Any

from socketio.packet import ACK, BINARY_ACK, BINARY_EVENT, EVENT, Packet

from attendance.jsonbody import MAX_DEPTH, depth_exceeds

#: The event a packet that could not be read becomes (see ``SafePacket``).
MALFORMED_EVENT = "malformed-message"
#: Longer integers stay text in packets: Python refuses to convert them.
_MAX_INT_DIGITS = min(sys.get_int_max_str_digits() or 4300, 4300)
_PACKET_TYPES = range(7)  # CONNECT … BINARY_ACK


class _BoundedJSON:
    """JSON for Socket.IO packets: bounded, and never raising.

    A number longer than Python converts (``int('1' * 10000)`` raises) stays the
    text it was; a packet that is not JSON, or nests deeper than the API allows,
    reads as the event ``MALFORMED_EVENT``, whose handler answers an error ack.
    """

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> str:
        return json.dumps(*args, **kwargs)

    @staticmethod
    def loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        try:
            value = json.loads(text, parse_int=_bounded_int)
        except (ValueError, RecursionError):
            return [MALFORMED_EVENT]
        if depth_exceeds(value, MAX_DEPTH):
            return [MALFORMED_EVENT]
        return value


def _bounded_int(text: str) -> int | str:
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


class SafePacket(Packet):
    """python-socketio's packet, read so that no packet from a client can raise.

    Without it a 10,000-digit number, deep nesting, an event that is not a list
    or a bad packet header raised inside python-socketio: a traceback in the log
    and no answer. Now each is the event ``MALFORMED_EVENT`` (answered with an
    error ack when the packet asked for one).
    """

    json = _BoundedJSON

    def decode(self, encoded_packet: Any) -> int:
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError):
            self.packet_type, self.namespace, self.data = EVENT, None, None
            attachments = 0
        if self.packet_type not in _PACKET_TYPES:
            self.packet_type, self.data = EVENT, None
        if self.packet_type in (BINARY_EVENT, BINARY_ACK) and not attachments:
            # python-socketio would wait for an attachment it then refuses.
            self.packet_type = EVENT if self.packet_type == BINARY_EVENT else ACK
        if self.packet_type in (EVENT, BINARY_EVENT) and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            self.data = [MALFORMED_EVENT]
        return attachments
