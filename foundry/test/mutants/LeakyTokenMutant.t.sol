// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SystemInvariantsTest} from "../SystemInvariants.t.sol";
import {ISettlementToken} from "../utils/Interfaces.sol";

/// @notice contracts/SettlementToken.sol (a 2-decimal ERC-20 with a minter), except that
/// every transfer burns one more minor unit from the payer. The payee still receives exactly
/// the amount, so the contracts' received-amount check passes: only the conservation
/// invariant can see money disappear.
contract LeakyToken is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    constructor(address admin, address minter) ERC20("Leaky Dollar", "LKY") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
    }

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && to != address(0) && value > 1) super._update(from, address(0), 1);
    }
}

/// @notice The whole suite over the leaky token: invariant_settlement_token_balances_conserved
/// must FAIL (tests/contracts/test_contracts_invariants_forge.py checks that it does).
/// foundry.toml's no_match_contract leaves it out of ordinary runs.
contract LeakyTokenMutantTest is SystemInvariantsTest {
    function _settlementToken() internal override returns (ISettlementToken) {
        return ISettlementToken(address(new LeakyToken(admin, minter)));
    }
}
