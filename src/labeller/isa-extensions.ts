// The ISA extensions with a fixed name across the fleet: every board is asked about each of them.
//
// The labeller labels whatever extension a board lists; a Node without a label simply does not
// match a selector on it. A DRA selector is different: CEL aborts a claim's allocation on an
// attribute that a device lacks, so the DRA driver publishes one bool per extension here, on every
// device, true or false. A device may carry at most 32 attributes and capacities together, and
// seven are taken by the others (board, harts, mvendorid, marchid, mimpid, resource, memory).
export const KNOWN_ISA_EXTENSIONS = [
  'm', 'a', 'f', 'd', 'c', 'v', 'h',
  'zicsr', 'zifencei', 'zicntr', 'zihpm', 'zicbom', 'zicboz', 'zicond', 'zihintpause',
  'zfh', 'zfhmin', 'zba', 'zbb', 'zbc', 'zbs', 'zvbb', 'zvfh',
  // T-Head's pre-ratification vector 0.7.1, which the labeller never calls `v`.
  'xtheadvector',
] as const;

export type KnownIsaExtension = (typeof KNOWN_ISA_EXTENSIONS)[number];
