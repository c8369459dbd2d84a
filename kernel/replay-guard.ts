/**
 * Refuses a signed message the kernel has already received (a replay).
 *
 * The signature is an HMAC over the header (with its unique msg_id and date),
 * parent header, metadata and content, so two genuine messages never share
 * one; a repeated signature means someone resent captured frames. ipykernel's
 * Session keeps the digests it has seen and refuses duplicates
 * (jupyter_client.session.Session.digest_history, "Duplicate Signature"),
 * holding at most 2**16 and forgetting the oldest tenth when full; so does
 * this. Shell and control share one history, as they share one Session in
 * ipykernel. Unsigned messages (an empty key) cannot be told apart and pass.
 */
export const MAX_DIGESTS = 2 ** 16;

export class ReplayGuard {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = MAX_DIGESTS) {}

  /** Records `signature`; false when it was seen before (the message must be refused). */
  admit(signature: string): boolean {
    if (signature === '') return true;
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    if (this.seen.size > this.capacity) {
      // Sets iterate in insertion order: the oldest go first.
      let drop = Math.ceil(this.capacity / 10);
      for (const old of this.seen) {
        if (drop-- <= 0) break;
        this.seen.delete(old);
      }
    }
    return true;
  }
}
