/**
 * The network that migrations share (BtrPlace's network view): elements of limited bandwidth (a
 * link in one direction, a switch) and, for a migration between two nodes, the elements it crosses
 * and the bandwidth it holds on each of them for its whole duration. Concurrent migrations may not
 * hold more than an element's capacity at any instant.
 */
export interface NetworkModel {
  readonly elements: readonly NetworkElement[];
  /** The route of a migration from `from` to `to` (node ids); undefined when nothing bounds it. */
  route(from: string, to: string): NetworkRoute | undefined;
}

export interface NetworkElement {
  /** For messages: "link 7 (node 24, inbound)", "switch 0". */
  readonly name: string;
  readonly capacity: number;
}

export interface NetworkRoute {
  /** Indexes into `elements`: each holds `bandwidth` while the migration runs. */
  readonly elements: readonly number[];
  readonly bandwidth: number;
}
