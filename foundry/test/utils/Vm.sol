// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The few cheat codes these tests use. forge-std is not used: npm only has an old
/// release of it, and this is all the suite needs (forge answers these at the hevm address).
interface Vm {
    function warp(uint256 timestamp) external;
    function prank(address sender) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
    function label(address account, string calldata name) external;
    function deployCode(string calldata artifactPath, bytes calldata constructorArgs) external returns (address);
}

/// @dev address(uint160(uint256(keccak256("hevm cheat code")))).
address constant VM_ADDRESS = 0x7109709ECfa91a80626fF3989D68f67F5b1DD12D;

/// @dev forge's console (logs show with -vv and in --json's decoded_logs).
library console {
    address private constant CONSOLE = 0x000000000000000000636F6e736F6c652e6c6f67;

    function log(string memory label, uint256 value) internal view {
        (bool ok,) = CONSOLE.staticcall(abi.encodeWithSignature("log(string,uint256)", label, value));
        ok;
    }
}

/// @dev forge's invariant runner reads `targetSelectors()` in this shape.
struct FuzzSelector {
    address addr;
    bytes4[] selectors;
}
