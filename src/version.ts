// Kvorum's own version, and the etcd version it reports.
export const VERSION = "0.1.0";
/**
 * The etcd release Kvorum reports as its server version (GET /version's etcdserver, the
 * Maintenance Status RPC's version, etcd_server_version): the newest etcd 3.4 release whose
 * client-visible promises Kvorum keeps. Clients gate features on it (Kubernetes serves
 * consistent reads from its watch cache on etcd >= 3.4.31). Why 3.4.31: docs/adr/0014.
 */
export const ETCD_API_VERSION = "3.4.31";
/** The cluster version an etcd 3.4 cluster reports (GET /version's etcdcluster): major.minor.0. */
export const ETCD_CLUSTER_VERSION = "3.4.0";
