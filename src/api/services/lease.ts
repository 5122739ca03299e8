// etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseKeepAlive (bidi), LeaseTimeToLive, LeaseLeases.
import { KeepAliveLeaseNotFoundError } from "../../lease/index.js";
import { EtcdError, Errors } from "../../mvcc/errors.js";
import type { MemberApi } from "../../server/member-api.js";
import { boolField, int64Field, numberField, plainHeader, type ApiOptions } from "../convert.js";
import { toRpcError } from "../errors.js";
import type { BidiStreamHandler, HandlerTable } from "../handler-types.js";
import { addMethods, requestOptions, unary } from "./unary.js";

const LEASE_NOT_FOUND = Errors.leaseNotFound().message;

export function leaseHandlers(member: MemberApi, _opts: ApiOptions): HandlerTable {
  const keepAlive: BidiStreamHandler = {
    kind: "bidi",
    requestType: "etcdserverpb.LeaseKeepAliveRequest",
    responseType: "etcdserverpb.LeaseKeepAliveResponse",
    open(out, ctx) {
      const opts = requestOptions(ctx);
      let ended = false;
      // Answers go out in request order: each renewal waits for the one before it.
      let chain: Promise<void> = Promise.resolve();
      const finish = (err?: unknown): void => {
        if (ended) return;
        ended = true;
        out.end(err === undefined ? undefined : toRpcError(err));
      };
      ctx.signal.addEventListener("abort", () => finish(), { once: true });
      return {
        message(req) {
          const id = int64Field(req, "ID");
          chain = chain.then(async () => {
            if (ended) return;
            try {
              const renewed = await member.leaseRenew(id, opts);
              if (!ended) {
                out.send({
                  header: plainHeader(member, renewed),
                  ID: id.toString(),
                  TTL: String(renewed.ttl),
                });
              }
            } catch (err) {
              if (ended) return;
              // An unknown or expired lease is answered with TTL 0 and the stream goes on (etcd).
              if (err instanceof EtcdError && err.message === LEASE_NOT_FOUND) {
                // etcd's header is filled when the request comes in, before any wait.
                const { revision } =
                  err instanceof KeepAliveLeaseNotFoundError
                    ? err
                    : await member.status().catch(() => ({ revision: 0 }));
                out.send({ header: plainHeader(member, { revision }), ID: id.toString(), TTL: "0" });
              } else {
                finish(err);
              }
            }
          });
        },
        end() {
          // etcd ends the call once the client half-closes and the pending answers are out.
          void chain.then(() => finish());
        },
      };
    },
  };

  return addMethods(new Map(), "etcdserverpb.Lease", {
    LeaseGrant: unary("etcdserverpb.LeaseGrantRequest", "etcdserverpb.LeaseGrantResponse", async (req, o) => {
      const granted = await member.leaseGrant({ id: int64Field(req, "ID"), ttl: numberField(req, "TTL") }, o);
      return {
        header: plainHeader(member, granted),
        ID: granted.id.toString(),
        TTL: String(granted.ttl),
        error: "",
      };
    }),
    LeaseRevoke: unary(
      "etcdserverpb.LeaseRevokeRequest",
      "etcdserverpb.LeaseRevokeResponse",
      async (req, o) => {
        const revoked = await member.leaseRevoke(int64Field(req, "ID"), o);
        return { header: plainHeader(member, revoked) };
      },
    ),
    LeaseKeepAlive: keepAlive,
    LeaseTimeToLive: unary(
      "etcdserverpb.LeaseTimeToLiveRequest",
      "etcdserverpb.LeaseTimeToLiveResponse",
      async (req, o) => {
        const ttl = await member.leaseTimeToLive(int64Field(req, "ID"), boolField(req, "keys"), o);
        return {
          header: plainHeader(member, ttl),
          ID: ttl.id.toString(),
          TTL: String(ttl.ttl),
          grantedTTL: String(ttl.grantedTtl),
          keys: ttl.keys,
        };
      },
    ),
    LeaseLeases: unary(
      "etcdserverpb.LeaseLeasesRequest",
      "etcdserverpb.LeaseLeasesResponse",
      async (_req, o) => {
        const { ids, revision } = await member.leaseLeases(o);
        return {
          header: plainHeader(member, { revision }),
          leases: ids.map((id) => ({ ID: id.toString() })),
        };
      },
    ),
  });
}
