/**
 * Intel's published identities for production TDX attestation, as pinned by
 * governance (scripts/setAttestationPolicy.ts `intel` preset). The values are
 * those of the real quote in tests/fixtures/tdx (checked by its tests).
 */

/** Intel SGX Root CA public key (P-256), from its self-signed certificate. */
export const INTEL_SGX_ROOT_CA_KEY = {
    x: 0x0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5n,
    y: 0x67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394n,
};

/** Intel's TDX quoting enclave: MRSIGNER and ISVPRODID. */
export const INTEL_TD_QE_MRSIGNER = 0xdc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5n;
export const INTEL_TD_QE_ISVPRODID = 2n;

/**
 * Intel's TD quoting enclave identity beyond MRSIGNER (its published QE
 * identity for TD_QE): MISCSELECT and ATTRIBUTES with their masks, read in
 * report byte order. The ATTRIBUTES mask covers DEBUG, so a debug QE never
 * matches.
 */
export const INTEL_TD_QE_IDENTITY = {
    qeMiscSelect: 0x00000000n,
    qeMiscSelectMask: 0xffffffffn,
    qeAttributes: 0x11000000000000000000000000000000n,
    qeAttributesMask: 0xfbffffffffffffff0000000000000000n,
} as const;
