// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice Test-only ERC-20 that burns 1% of every transfer, so the receiver
/// gets less than the amount sent. InvoiceToken must refuse to settle in it.
contract FeeOnTransferToken is ERC20 {
    /// @notice The fee, in hundredths of the amount sent.
    uint256 public constant FEE_PERCENT = 1;

    constructor() ERC20("Fee On Transfer (test)", "FOT") {}

    /// @notice Anyone may mint: this token only exists in tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice 2 decimals, like the HKD settlement token.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @dev Transfers (not mints or burns) burn 1% of the amount from the sender.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = value * FEE_PERCENT / 100;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}
