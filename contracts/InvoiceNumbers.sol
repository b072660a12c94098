// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title InvoiceNumbers
/// @notice The normal form of a supplier's invoice number, the identity rule of
/// {IInvoiceToken} (rules there). A linked library, deployed once before the
/// invoice token: its code lives outside InvoiceToken, which keeps the token
/// under the 24,576-byte code size limit (EIP-170).
library InvoiceNumbers {
    /// @dev The longest invoice number, in bytes of UTF-8.
    uint256 private constant MAX_NUMBER_BYTES = 64;

    /// @notice The same error as IInvoiceToken.InvalidInvoiceNumber (the same selector),
    /// so a caller sees the token's own error.
    error InvalidInvoiceNumber(string number);

    /// @dev The ASCII stand-in of the multi-byte character at `b[i]` (lead byte `c`) and its
    /// length: full-width ASCII becomes ASCII; blank, invisible and dash-like characters become
    /// a space (a separator); a C1 control character becomes 0x7F (refused); anything else is
    /// kept, one byte at a time.
    function _fold(bytes calldata b, uint256 i, uint8 c) private pure returns (uint8, uint256) {
        uint256 n = b.length;
        if (c == 0xC2 && i + 1 < n) {
            uint8 d = uint8(b[i + 1]);
            if (d < 0xA0) return (0x7F, 2); // U+0080..U+009F
            if (d == 0xA0 || d == 0xAD) return (0x20, 2); // no-break space, soft hyphen
        } else if (i + 2 < n) {
            uint8 c1 = uint8(b[i + 1]);
            uint8 c2 = uint8(b[i + 2]);
            if (c == 0xEF) {
                // U+FF01..U+FF3F is EF BC 81..BF, U+FF40..U+FF5E is EF BD 80..9E.
                if (c1 == 0xBC && c2 >= 0x81 && c2 <= 0xBF) return (c2 - 0x60, 3);
                if (c1 == 0xBD && c2 >= 0x80 && c2 <= 0x9E) return (c2 - 0x20, 3);
                if (c1 == 0xBB && c2 == 0xBF) return (0x20, 3); // byte-order mark
            } else if (c == 0xE2) {
                // U+2000..U+2015 spaces, zero-width characters, direction marks, hyphens and dashes;
                // U+2028..U+202F separators, bidi controls, narrow no-break space;
                // U+205F..U+206F word joiner, invisible operators, bidi isolates; U+2212 minus sign.
                if (
                    (c1 == 0x80 && (c2 <= 0x95 || (c2 >= 0xA8 && c2 <= 0xAF)))
                        || (c1 == 0x81 && c2 >= 0x9F && c2 <= 0xAF) || (c1 == 0x88 && c2 == 0x92)
                ) return (0x20, 3);
            } else if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) {
                return (0x20, 3); // ideographic space
            }
        }
        return (c, 1);
    }

    /// @notice The normal form of an invoice number (rules in {IInvoiceToken}); reverts
    /// with InvalidInvoiceNumber for a number that has none.
    function normalise(string calldata number) external pure returns (bytes memory out) {
        bytes calldata b = bytes(number);
        uint256 n = b.length;
        if (n == 0 || n > MAX_NUMBER_BYTES) revert InvalidInvoiceNumber(number);
        out = new bytes(n);
        uint256 len;
        bool inRun; // inside a run of digits
        bool zeros; // the run so far holds only zeros (none written yet)
        for (uint256 i; i < n;) {
            uint8 c = uint8(b[i]);
            uint256 step = 1;
            if (c >= 0xC2 && c <= 0xEF) (c, step) = _fold(b, i, c);
            if (c >= 0x30 && c <= 0x39) {
                if (!inRun) {
                    inRun = true;
                    zeros = true;
                }
                if (!zeros || c != 0x30) {
                    zeros = false;
                    out[len++] = bytes1(c);
                }
            } else if (c < 0x20 || c == 0x7F) {
                revert InvalidInvoiceNumber(number);
            } else if (c >= 0x80 || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)) {
                if (inRun && zeros) out[len++] = "0";
                inRun = false;
                out[len++] = bytes1(c >= 0x61 && c <= 0x7A ? c - 0x20 : c);
            }
            // Any other ASCII character is a separator: ignored, as if absent.
            unchecked {
                i += step;
            }
        }
        if (inRun && zeros) out[len++] = "0";
        if (len == 0) revert InvalidInvoiceNumber(number);
        assembly ("memory-safe") {
            mstore(out, len)
        }
    }
}
