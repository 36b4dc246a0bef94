"""A minimal PostgreSQL client: protocol 3.0, simple queries, trust authentication.

The harness keeps one session per system open for the whole run. Spawning psql per query would
add its start-up to every timing, and a fresh backend per query would make hyperdist and
fdw-shard open their data-node connections again each time. Only the standard library is used,
so the harness needs nothing installed to run.
"""

import socket
import struct

PROTOCOL_3_0 = 196608
FLOAT_TYPES = {700, 701, 1700}  # float4, float8, numeric


class PgError(Exception):
    """An ErrorResponse from the server."""

    def __init__(self, fields):
        self.sqlstate = fields.get("C", "")
        self.message = fields.get("M", "")
        detail = f" ({fields['D']})" if "D" in fields else ""
        super().__init__(f"{fields.get('S', 'ERROR')}: {self.message}{detail} [{self.sqlstate}]")


class Result:
    """Rows (tuples of str or None) of the last statement that returned any, and its column types."""

    def __init__(self):
        self.columns = []
        self.type_oids = []
        self.rows = []
        self.row_count = 0


def _fields(body):
    """The typed fields of an ErrorResponse or NoticeResponse body."""
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


class Connection:
    def __init__(self, host, port, dbname, user="postgres"):
        self._sock = socket.create_connection((host, port))
        # Queries are single small packets: without this, Nagle's algorithm delays them.
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._in = self._sock.makefile("rb", buffering=1 << 16)
        params = b""
        for key, value in (("user", user), ("database", dbname), ("application_name", "hyperdist-bench")):
            params += key.encode() + b"\0" + value.encode() + b"\0"
        body = struct.pack("!i", PROTOCOL_3_0) + params + b"\0"
        self._sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self._drain(Result(), keep_rows=False)

    def close(self):
        try:
            self._sock.sendall(b"X" + struct.pack("!i", 4))
        except OSError:
            pass
        self._in.close()
        self._sock.close()

    def query(self, sql, keep_rows=True):
        """Runs `sql` (one or more statements) and returns the Result of the last one with rows.

        With keep_rows=False the rows are counted, not decoded, so a large result costs the client
        as little as possible while it is being timed."""
        payload = sql.encode() + b"\0"
        self._sock.sendall(b"Q" + struct.pack("!i", len(payload) + 4) + payload)
        return self._drain(Result(), keep_rows)

    def _message(self):
        header = self._in.read(5)
        if len(header) < 5:
            raise ConnectionError("the server closed the connection")
        length = struct.unpack_from("!i", header, 1)[0]
        return header[:1], self._in.read(length - 4)

    def _drain(self, result, keep_rows):
        """Reads messages up to ReadyForQuery; raises the first error after that, so the session
        stays usable."""
        error = None
        while True:
            kind, body = self._message()
            if kind == b"D":
                result.row_count += 1
                if keep_rows:
                    result.rows.append(_data_row(body))
            elif kind == b"T":
                result.columns, result.type_oids = _row_description(body)
                result.rows, result.row_count = [], 0
            elif kind == b"E":
                error = error or PgError(_fields(body))
            elif kind == b"R":
                method = struct.unpack_from("!i", body)[0]
                if method != 0:
                    raise ConnectionError(f"the server asks for authentication method {method}; only trust is supported")
            elif kind == b"Z":
                if error:
                    raise error
                return result
            # Everything else (CommandComplete, NoticeResponse, ParameterStatus, BackendKeyData,
            # EmptyQueryResponse) carries nothing the harness uses.


def _row_description(body):
    count = struct.unpack_from("!h", body)[0]
    offset, names, oids = 2, [], []
    for _ in range(count):
        end = body.index(b"\0", offset)
        names.append(body[offset:end].decode())
        # table oid (4), column number (2), then the type oid
        oids.append(struct.unpack_from("!i", body, end + 1 + 6)[0])
        offset = end + 1 + 18
    return names, oids


def _data_row(body):
    count = struct.unpack_from("!h", body)[0]
    offset, values = 2, []
    for _ in range(count):
        length = struct.unpack_from("!i", body, offset)[0]
        offset += 4
        if length < 0:
            values.append(None)
        else:
            values.append(body[offset:offset + length].decode())
            offset += length
    return tuple(values)
