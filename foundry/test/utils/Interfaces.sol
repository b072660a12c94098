// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IInvoiceToken} from "../../../contracts/interfaces/IInvoiceToken.sol";
import {IParticipantRegistry} from "../../../contracts/interfaces/IParticipantRegistry.sol";

/// @dev The tests reach the deployed contracts through interfaces only: the contracts are
/// compiled once, with the project's settings, and deployed from their artifacts (as
/// ledger/evm/deploy.py does), so the test code can be compiled without the optimizer.

interface IRoles {
    function hasRole(bytes32 role, address account) external view returns (bool);
    function grantRole(bytes32 role, address account) external;
}

/// @dev InvoiceToken: IInvoiceToken, with ERC-721, AccessControl and Pausable.
interface ISystemToken is IInvoiceToken, IRoles {
    function OPERATOR_ROLE() external view returns (bytes32);
    function CURRENCY_MANAGER_ROLE() external view returns (bytes32);
    function paused() external view returns (bool);
    function ownerOf(uint256 tokenId) external view returns (address);
    function getApproved(uint256 tokenId) external view returns (address);
    function approve(address to, uint256 tokenId) external;
    function transferFrom(address from, address to, uint256 tokenId) external;
}

/// @dev ParticipantRegistry: IParticipantRegistry with AccessControl.
interface IRegistryAdmin is IParticipantRegistry, IRoles {
    function OPERATOR_ROLE() external view returns (bytes32);
}

/// @dev SettlementToken: an ERC-20 with a minter.
interface ISettlementToken is IRoles {
    function MINTER_ROLE() external view returns (bytes32);
    function mint(address to, uint256 amount) external;
    function totalSupply() external view returns (uint256);
    function balanceOf(address account) external view returns (uint256);
    function approve(address spender, uint256 value) external returns (bool);
}
