/** The name corral goes by as a surrogate (W3C Edge Architecture 1.0, https://www.w3.org/TR/edge-arch/): a leaf, read by the fill's request headers and by policy/targeted.ts. */
/** The W3C Edge Architecture device token corral answers to (`max-age=60;corral`). */
export const SURROGATE_DEVICE = 'corral'

/** Sent on fills (W3C Edge Architecture 1.0 §2.1) so the origin knows a surrogate named corral is there. */
export const SURROGATE_CAPABILITY = `${SURROGATE_DEVICE}="Surrogate/1.0"`
