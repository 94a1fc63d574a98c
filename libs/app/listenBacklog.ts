/**
 * The listen backlog runService asks for, for every app: as deep as the kernel allows (it caps
 * the request at net.core.somaxconn, 4,096 by default on current Linux). Node's default is 511. When a notifier
 * dies, all its clients come back within a second or two; a full accept queue makes the kernel
 * drop their SYNs, and TCP retries them 1 s, 3 s, 7 s … later: bench scenario 6 (19,000 clients)
 * saw 128,000 drops and a p99 of 18 s with somaxconn at 4,096, none and 14 s at 65,535.
 * docs/operations.md says to raise it on notifier hosts.
 */
export const LISTEN_BACKLOG = 65535;
