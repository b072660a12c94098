// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title PlainERC721
/// @notice The yardstick of scripts/gas.py: a plain OpenZeppelin ERC-721 whose
/// mint is the cheapest a receivable token could be (no rules, no record).
contract PlainERC721 is ERC721 {
    constructor() ERC721("Plain", "PLAIN") {}

    /// @notice Mint `tokenId` to `to`; anyone may call it (benchmark only).
    function mint(address to, uint256 tokenId) external {
        _mint(to, tokenId);
    }
}
