// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title ParticipantRegistry
/// @notice Who may act on the network, in which role, until when.
contract ParticipantRegistry is IParticipantRegistry, AccessControlDefaultAdminRules {
    /// @notice Admits, updates, renames and suspends participants.
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    uint8 public constant SUPPLIER = 1;
    uint8 public constant BUYER = 2;
    uint8 public constant FINANCIER = 4;
    uint8 public constant AUDITOR = 8;
    uint8 private constant ALL_ROLES = SUPPLIER | BUYER | FINANCIER | AUDITOR;
    uint256 private constant MAX_NAME_BYTES = 128;

    struct Participant {
        string name;
        uint8 roles;
        uint64 kycExpiry;
        bool admitted;
        bool suspended;
        uint32 id;
    }

    mapping(address account => Participant) private _participants;
    mapping(uint32 id => address account) private _accounts;
    uint32 private _count;

    /// @param admin The default admin (grants the operator role; transferred in two steps).
    /// @param operator Holder of OPERATOR_ROLE.
    /// @param adminDelay Seconds a new default admin waits before accepting.
    constructor(address admin, address operator, uint48 adminDelay) AccessControlDefaultAdminRules(adminDelay, admin) {
        _grantRole(OPERATOR_ROLE, operator);
    }

    /// @inheritdoc IParticipantRegistry
    function admit(address account, string calldata name, uint8 roles, uint64 kycExpiry)
        external
        onlyRole(OPERATOR_ROLE)
    {
        if (account == address(0)) revert InvalidParticipant(account);
        if (_participants[account].admitted) revert ParticipantAlreadyAdmitted(account);
        _checkName(name);
        _checkTerms(roles, kycExpiry);
        uint32 id = ++_count;
        _participants[account] = Participant(name, roles, kycExpiry, true, false, id);
        _accounts[id] = account;
        emit ParticipantAdmitted(account, name, roles, kycExpiry);
    }

    /// @inheritdoc IParticipantRegistry
    function updateParticipant(address account, uint8 roles, uint64 kycExpiry) external onlyRole(OPERATOR_ROLE) {
        Participant storage p = _admitted(account);
        _checkTerms(roles, kycExpiry);
        p.roles = roles;
        p.kycExpiry = kycExpiry;
        emit ParticipantUpdated(account, roles, kycExpiry);
    }

    /// @inheritdoc IParticipantRegistry
    function rename(address account, string calldata name) external onlyRole(OPERATOR_ROLE) {
        Participant storage p = _admitted(account);
        _checkName(name);
        p.name = name;
        emit ParticipantRenamed(account, name);
    }

    /// @inheritdoc IParticipantRegistry
    function suspend(address account) external onlyRole(OPERATOR_ROLE) {
        _admitted(account).suspended = true;
        emit ParticipantSuspended(account);
    }

    /// @inheritdoc IParticipantRegistry
    function reinstate(address account) external onlyRole(OPERATOR_ROLE) {
        _admitted(account).suspended = false;
        emit ParticipantReinstated(account);
    }

    /// @inheritdoc IParticipantRegistry
    function isActive(address account, uint8 role) external view returns (bool) {
        Participant storage p = _participants[account];
        return p.admitted && !p.suspended && block.timestamp < p.kycExpiry && (p.roles & role) == role;
    }

    /// @inheritdoc IParticipantRegistry
    function requireActive(address account, uint8 role) external view returns (uint32) {
        Participant storage p = _participants[account];
        if (!p.admitted) revert ParticipantNotAdmitted(account);
        if (p.suspended) revert ParticipantIsSuspended(account);
        // KYC is valid strictly before its expiry second.
        if (block.timestamp >= p.kycExpiry) revert ParticipantKycExpired(account, p.kycExpiry, block.timestamp);
        if ((p.roles & role) != role) revert ParticipantLacksRole(account, role, p.roles);
        return p.id;
    }

    /// @inheritdoc IParticipantRegistry
    function idOf(address account) external view returns (uint32) {
        return _participants[account].id;
    }

    /// @inheritdoc IParticipantRegistry
    function accountOf(uint32 id) external view returns (address) {
        return _accounts[id];
    }

    /// @inheritdoc IParticipantRegistry
    function participant(address account)
        external
        view
        returns (string memory name, uint8 roles, uint64 kycExpiry, bool admitted, bool suspended)
    {
        Participant storage p = _participants[account];
        return (p.name, p.roles, p.kycExpiry, p.admitted, p.suspended);
    }

    function _admitted(address account) private view returns (Participant storage p) {
        p = _participants[account];
        if (!p.admitted) revert ParticipantNotAdmitted(account);
    }

    function _checkTerms(uint8 roles, uint64 kycExpiry) private view {
        if (roles == 0 || (roles & ~ALL_ROLES) != 0) revert InvalidRoles(roles);
        if (kycExpiry <= block.timestamp) revert InvalidKycExpiry(kycExpiry);
    }

    function _checkName(string calldata name) private pure {
        bytes calldata b = bytes(name);
        if (b.length == 0 || b.length > MAX_NAME_BYTES) revert InvalidName(name);
        for (uint256 i; i < b.length; ++i) {
            uint8 c = uint8(b[i]);
            if (c < 0x20 || c == 0x7F) revert InvalidName(name);
            // C1 controls (U+0080..U+009F: C2 80..C2 9F), e.g. U+009B, which terminals read as an escape.
            if (c == 0xC2 && i + 1 < b.length && uint8(b[i + 1]) < 0xA0) revert InvalidName(name);
        }
    }
}
