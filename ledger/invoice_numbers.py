"""Invoice numbers and their normal form: the exact mirror of
``InvoiceNumbers.normalise``, the library InvoiceToken calls (rules in ``contracts/interfaces/IInvoiceToken.sol``).

The contract, not this module, decides an invoice's identity: the key is
``keccak256(supplier ++ normalised number)``, computed on chain. This mirror
exists so that the database can store, show and search the normal form, and
so the CLI can explain a refusal before sending anything. Both sides are held
to one table of test vectors, ``tests/vectors/invoice_numbers.json``.

No web3 import: the database-only commands use it.
"""

from __future__ import annotations

from ledger.errors import InvalidInvoiceNumber as InvalidInvoiceNumber

#: The longest invoice number the contract accepts, in bytes of UTF-8.
MAX_NUMBER_BYTES = 64


def _fold(raw: bytes, i: int, c: int) -> tuple[int, int]:
    """The ASCII stand-in of the multi-byte character at ``raw[i]`` and its
    length (``InvoiceNumbers._fold``): full-width ASCII to ASCII; blank,
    invisible and dash-like characters to a space; C1 controls to 0x7F
    (refused); anything else kept, one byte at a time."""
    n = len(raw)
    if c == 0xC2 and i + 1 < n:
        d = raw[i + 1]
        if d < 0xA0:
            return 0x7F, 2  # U+0080..U+009F
        if d in (0xA0, 0xAD):
            return 0x20, 2  # no-break space, soft hyphen
    elif i + 2 < n:
        c1, c2 = raw[i + 1], raw[i + 2]
        if c == 0xEF:
            if c1 == 0xBC and 0x81 <= c2 <= 0xBF:  # U+FF01..U+FF3F
                return c2 - 0x60, 3
            if c1 == 0xBD and 0x80 <= c2 <= 0x9E:  # U+FF40..U+FF5E
                return c2 - 0x20, 3
            if c1 == 0xBB and c2 == 0xBF:  # byte-order mark
                return 0x20, 3
        elif c == 0xE2:
            if (
                (c1 == 0x80 and (c2 <= 0x95 or 0xA8 <= c2 <= 0xAF))
                or (c1 == 0x81 and 0x9F <= c2 <= 0xAF)
                or (c1 == 0x88 and c2 == 0x92)
            ):
                return 0x20, 3
        elif c == 0xE3 and c1 == 0x80 and c2 == 0x80:
            return 0x20, 3  # ideographic space
    return c, 1


def normalise_bytes(raw: bytes) -> bytes | None:
    """The contract's normal form of the UTF-8 bytes ``raw``, or None where
    the contract reverts (InvalidInvoiceNumber)."""
    n = len(raw)
    if n == 0 or n > MAX_NUMBER_BYTES:
        return None
    out = bytearray()
    in_run = zeros = False
    i = 0
    while i < n:
        c = raw[i]
        step = 1
        if 0xC2 <= c <= 0xEF:
            c, step = _fold(raw, i, c)
        if 0x30 <= c <= 0x39:
            if not in_run:
                in_run = zeros = True
            if not zeros or c != 0x30:
                zeros = False
                out.append(c)
        elif c < 0x20 or c == 0x7F:
            return None
        elif c >= 0x80 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            if in_run and zeros:
                out.append(0x30)
            in_run = False
            out.append(c - 0x20 if 0x61 <= c <= 0x7A else c)
        i += step
    if in_run and zeros:
        out.append(0x30)
    return bytes(out) if out else None


def normalise_invoice_number(number: str) -> str:
    """The normal form of an invoice number, as the contract computes it:
    ``INV-01``, ``INV 0001``, ``inv1`` and ``ＩＮＶ０１`` all give ``INV1``.
    Raises :class:`InvalidInvoiceNumber` where the contract would refuse it."""
    raw = number.encode("utf-8", "surrogateescape")
    if not raw:
        raise InvalidInvoiceNumber(number, "it is empty")
    if len(raw) > MAX_NUMBER_BYTES:
        raise InvalidInvoiceNumber(number, f"it is {len(raw)} bytes long; the limit is {MAX_NUMBER_BYTES}")
    if any(b < 0x20 or b == 0x7F for b in raw) or any(0x80 <= ord(ch) <= 0x9F for ch in number):
        raise InvalidInvoiceNumber(number, "it contains a control character")
    normal = normalise_bytes(raw)
    if normal is None:
        raise InvalidInvoiceNumber(number, "it needs at least one letter, digit or non-ASCII character")
    return normal.decode("utf-8", "replace")
