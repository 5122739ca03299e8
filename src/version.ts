// Kvorum's own version, and the etcd API version it speaks.
export const VERSION = "0.1.0";
/** The etcd release whose v3 API Kvorum matches. */
export const ETCD_API_VERSION = "3.4.0";
