// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev `v` in decimal digits: the handler's invoice numbers (INV-n) and the suite's messages.
function decimal(uint256 v) pure returns (string memory) {
    if (v == 0) return "0";
    uint256 len;
    for (uint256 t = v; t != 0; t /= 10) {
        ++len;
    }
    bytes memory b = new bytes(len);
    for (; v != 0; v /= 10) {
        b[--len] = bytes1(uint8(48 + v % 10));
    }
    return string(b);
}
