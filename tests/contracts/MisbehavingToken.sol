// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MisbehavingToken
/// @notice Test-only ERC-20 whose behaviour the test switches at any time, as the owner of
/// an upgradeable or fee-switch stablecoin can after the currency manager accepted it:
/// honest; returning false instead of reverting (and moving nothing); taking a fee on
/// every transfer; or reverting on transfers of zero. InvoiceToken must refuse to settle
/// in the first two (nothing recorded that was not received) and must never be bricked
/// by the last (it never moves zero).
contract MisbehavingToken is ERC20 {
    enum Mode {
        Honest,
        ReturnsFalse,
        TakesFee,
        RevertsOnZero
    }

    /// @notice How transfers behave now.
    Mode public mode;

    /// @notice A transfer of zero from `from` to `to` (mode RevertsOnZero).
    error ZeroTransfer(address from, address to);

    constructor() ERC20("Misbehaving (test)", "MIS") {}

    /// @notice Anyone may mint: this token only exists in tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Anyone may switch the behaviour: this token only exists in tests.
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice 2 decimals, like the HKD settlement token.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @dev ReturnsFalse: reports failure without reverting, and moves nothing.
    function transfer(address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnsFalse) return false;
        return super.transfer(to, value);
    }

    /// @dev ReturnsFalse: reports failure without reverting, and moves nothing (the allowance stays).
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnsFalse) return false;
        return super.transferFrom(from, to, value);
    }

    /// @dev Transfers (not mints or burns): TakesFee burns 1% of the amount, rounded up, so
    /// even a one-unit transfer arrives short; RevertsOnZero refuses a zero amount.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            if (mode == Mode.RevertsOnZero && value == 0) revert ZeroTransfer(from, to);
            if (mode == Mode.TakesFee) {
                uint256 fee = (value + 99) / 100;
                super._update(from, address(0), fee);
                value -= fee;
            }
        }
        super._update(from, to, value);
    }
}
