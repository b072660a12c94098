// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @title ContractWallet
/// @notice Test-only ERC-1271 wallet of one owner account: a buyer whose treasury is a
/// contract. It accepts a signature of a hash iff the owner made it, and acts on chain
/// (confirming, revoking nonces) through {execute}, called by the owner.
contract ContractWallet is IERC1271 {
    /// @notice The account whose ECDSA signatures the wallet accepts and who may {execute}.
    address public immutable owner;

    /// @notice {execute} was called by `account`, not the owner.
    error NotWalletOwner(address account);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @inheritdoc IERC1271
    /// @dev `ECDSA.recover` reverts on a malformed signature (wrong length, high s, bad v)
    /// rather than returning a non-magic value: the token must treat a wallet that reverts
    /// as a refusal too. A well-formed signature by anyone else gets 0xffffffff.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        return ECDSA.recover(hash, signature) == owner ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }

    /// @notice Call `target` with `data` as the wallet (the owner only); a revert is
    /// passed on with its data, so the target's custom error reaches the caller.
    function execute(address target, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != owner) revert NotWalletOwner(msg.sender);
        bool ok;
        (ok, result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }
}
