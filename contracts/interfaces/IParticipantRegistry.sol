// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Permissioned participant registry of an SCF network
/// @notice The operator admits legal entities (suppliers, buyers, financiers,
/// auditors) with a KYC expiry and can suspend them. Other contracts ask the
/// registry whether an account may act in a role right now. The default admin
/// (two-step, delayed transfer) grants the operator role, which admits,
/// updates, renames, suspends and reinstates.
interface IParticipantRegistry {
    /// @notice Role bits; an account may hold several (a tier-1 supplier is
    /// often also the buyer of its own suppliers).
    /// SUPPLIER = 1, BUYER = 2, FINANCIER = 4, AUDITOR = 8.

    /// @notice The account is already admitted; use `updateParticipant`.
    error ParticipantAlreadyAdmitted(address account);
    /// @notice The account was never admitted.
    error ParticipantNotAdmitted(address account);
    /// @notice The account is suspended by the operator.
    error ParticipantIsSuspended(address account);
    /// @notice The account's KYC expired at `kycExpiry` (unix seconds).
    error ParticipantKycExpired(address account, uint64 kycExpiry, uint256 nowTimestamp);
    /// @notice The account does not hold the role bits `role`.
    error ParticipantLacksRole(address account, uint8 role, uint8 roles);
    /// @notice Role bits outside the defined set, or none at all.
    error InvalidRoles(uint8 roles);
    /// @notice A KYC expiry that is not in the future.
    error InvalidKycExpiry(uint64 kycExpiry);
    /// @notice The zero address cannot be a participant.
    error InvalidParticipant(address account);
    /// @notice A name must be 1 to 128 bytes with no control character (C0, DEL or C1)
    /// (so it prints on one line and cannot carry terminal escape sequences).
    error InvalidName(string name);

    /// @notice Emitted when the operator admits `account` under `name`.
    event ParticipantAdmitted(address indexed account, string name, uint8 roles, uint64 kycExpiry);
    /// @notice Emitted when the operator changes the roles or KYC expiry of `account`.
    event ParticipantUpdated(address indexed account, uint8 roles, uint64 kycExpiry);
    /// @notice Emitted when the operator changes the registered name of `account`.
    event ParticipantRenamed(address indexed account, string name);
    /// @notice Emitted when the operator suspends `account`.
    event ParticipantSuspended(address indexed account);
    /// @notice Emitted when the operator lifts the suspension of `account`.
    event ParticipantReinstated(address indexed account);

    /// @notice Admit a new participant.
    function admit(address account, string calldata name, uint8 roles, uint64 kycExpiry) external;

    /// @notice Change the roles and KYC expiry of an admitted participant (also
    /// renews the KYC of one whose KYC expired).
    function updateParticipant(address account, uint8 roles, uint64 kycExpiry) external;

    /// @notice Change the registered name of an admitted participant.
    function rename(address account, string calldata name) external;

    /// @notice Suspend a participant: it can no longer act until reinstated.
    function suspend(address account) external;

    /// @notice Lift a suspension.
    function reinstate(address account) external;

    /// @notice Whether `account` may act in `role` now (admitted, not
    /// suspended, KYC valid, holds the role).
    function isActive(address account, uint8 role) external view returns (bool);

    /// @notice Revert with the precise reason unless `account` may act in `role` now;
    /// returns its participant id.
    function requireActive(address account, uint8 role) external view returns (uint32 id);

    /// @notice The participant id of `account` (from 1, in order of admission; never
    /// reused), or zero if it was never admitted. Other contracts store ids, not
    /// addresses, to keep a receivable's record in one storage slot.
    function idOf(address account) external view returns (uint32);

    /// @notice The account of participant `id` (zero address for an unknown id).
    function accountOf(uint32 id) external view returns (address);

    /// @notice The stored record of `account`.
    function participant(address account)
        external
        view
        returns (string memory name, uint8 roles, uint64 kycExpiry, bool admitted, bool suspended);
}
