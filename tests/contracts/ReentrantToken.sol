// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test-only ERC-20 that calls back into a target in the middle of a
/// transfer (as a token with transfer hooks, or a malicious token, would), and
/// that can act as a party itself (`exec`): with it the tests reenter
/// InvoiceToken from inside its own settlement, as a holder or as a stranger.
contract ReentrantToken is ERC20 {
    /// @notice The armed call: fired once, by the next transfer (not a mint or burn).
    address public hookTarget;
    bytes public hookData;
    /// @notice Whether a failing hook call makes the transfer fail with its revert data.
    bool public hookBubbles;
    /// @notice Whether the last armed hook fired, and its revert data (empty if it succeeded).
    bool public hookFired;
    bytes public hookRevert;

    constructor() ERC20("Reentrant (test)", "REN") {}

    /// @notice Anyone may mint: this token only exists in tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice 2 decimals, like the HKD settlement token.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Call `target` with `data` as this contract (a party that is a contract);
    /// a revert is passed on as it is.
    function exec(address target, bytes calldata data) external returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call(data);
        if (!ok) _bubble(result);
    }

    /// @notice Arm the hook: the next transfer calls `target` with `data`.
    function arm(address target, bytes calldata data, bool bubbles) external {
        hookTarget = target;
        hookData = data;
        hookBubbles = bubbles;
        hookFired = false;
        delete hookRevert;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = hookTarget;
        if (from == address(0) || to == address(0) || target == address(0)) return;
        hookTarget = address(0);
        (bool ok, bytes memory result) = target.call(hookData);
        hookFired = true;
        if (!ok) {
            hookRevert = result;
            if (hookBubbles) _bubble(result);
        }
    }

    function _bubble(bytes memory data) private pure {
        assembly {
            revert(add(data, 32), mload(data))
        }
    }
}
