// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

/// @title ReceiverHookAttacker
/// @notice Test-only participant that is a contract: it acts through {exec}, and when an
/// ERC-721 token reaches it by a safe transfer its {onERC721Received} hook calls back into
/// a target (armed by the test) before the transfer returns. With it the tests reenter
/// InvoiceToken through the ERC-721 receiver hook, and check which moves call the hook.
contract ReceiverHookAttacker is IERC721Receiver {
    /// @notice The armed call: fired once, by the next hook.
    address public hookTarget;
    bytes public hookData;
    /// @notice Whether a failing hook call makes the hook (so the transfer) fail with its revert data.
    bool public hookBubbles;
    /// @notice Whether the last armed hook fired, and its revert data (empty if it succeeded).
    bool public hookFired;
    bytes public hookRevert;
    /// @notice Whether the hook answers a wrong value (a receiver that refuses the token).
    bool public refuses;
    /// @notice How many times the hook was called, armed or not.
    uint256 public received;

    /// @notice Call `target` with `data` as this contract (a party that is a contract);
    /// a revert is passed on as it is. Anyone may call: this contract only exists in tests.
    function exec(address target, bytes calldata data) external returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call(data);
        if (!ok) _bubble(result);
    }

    /// @notice Arm the hook: the next safe transfer to this contract calls `target` with `data`.
    function arm(address target, bytes calldata data, bool bubbles) external {
        hookTarget = target;
        hookData = data;
        hookBubbles = bubbles;
        hookFired = false;
        delete hookRevert;
    }

    /// @notice Make the hook answer a wrong value (`true`) or the right one.
    function setRefuses(bool refuses_) external {
        refuses = refuses_;
    }

    /// @inheritdoc IERC721Receiver
    function onERC721Received(address, address, uint256, bytes calldata) external returns (bytes4) {
        ++received;
        address target = hookTarget;
        if (target != address(0)) {
            hookTarget = address(0);
            (bool ok, bytes memory result) = target.call(hookData);
            hookFired = true;
            if (!ok) {
                hookRevert = result;
                if (hookBubbles) _bubble(result);
            }
        }
        return refuses ? bytes4(0xdeadbeef) : IERC721Receiver.onERC721Received.selector;
    }

    function _bubble(bytes memory data) private pure {
        assembly ("memory-safe") {
            revert(add(data, 32), mload(data))
        }
    }
}
