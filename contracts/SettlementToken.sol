// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title SettlementToken
/// @notice A test stablecoin standing in for real money on a local chain
/// (HKD, 2 decimals: 1 unit = 1 cent). Only MINTER_ROLE can create supply.
contract SettlementToken is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    uint8 private immutable _decimals;

    /// @param admin Grants and revokes roles.
    /// @param minter Holder of MINTER_ROLE (may differ from the admin).
    constructor(string memory name_, string memory symbol_, uint8 decimals_, address admin, address minter)
        ERC20(name_, symbol_)
    {
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
    }

    /// @notice Minor units per major unit are 10**decimals().
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Create `amount` minor units for `to`.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
