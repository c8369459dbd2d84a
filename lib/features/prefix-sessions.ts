/**
 * One ONNX Runtime session per frozen prefix, shared by fit, evaluate and predict and kept between
 * their calls (lib/onnx/session-cache.ts keeps it and bounds what is kept).
 *
 * A session is found by what the prefix computes (its content fingerprint, remembered while the
 * weights keep their values: lib/features/weight-identity.ts) and the provider asked for: fit's
 * prefix and predict's, split apart from the same model, share one, and so does the same base
 * built again by a re-run cell while the first one lives. It is released once stale:
 * - the model the prefix was split from (lib/features/split.ts), or the prefix itself, is disposed,
 *   or one of its weights is: checked right after every tfjs dispose() call, so `model.dispose()`
 *   releases it at once;
 * - a weight of the prefix changed (setWeights, loadWeights, fine-tuning): the session holds a copy
 *   of the old values.
 */
import * as tf from '@tensorflow/tfjs';
import { createOnnxSession } from '../onnx/session';
import { leaseOnnxSession, OnnxSessionLease, releaseStaleOnnxSessions } from '../onnx/session-cache';
import { OnnxProvider } from '../onnx/providers';
import { fingerprintModelAsync } from './fingerprint';
import { splitSourceOf } from './split';
import { modelDisposed, sameWeights, weightIdentity } from './weight-identity';

/**
 * A session running `prefix` on `provider` ('best': ONNX Runtime's best provider, falling back as
 * createOnnxSession does; a named one or an error), kept for the next call: give the lease back
 * when done, never dispose its session.
 */
export async function leasePrefixSession(prefix: tf.LayersModel, provider: OnnxProvider | 'best'): Promise<OnnxSessionLease> {
  releaseStaleOnDispose();
  const identity = weightIdentity(prefix);
  const key = `${await fingerprintModelAsync(prefix)}|${provider}`;
  // A weight written while the fingerprint was read (a training step elsewhere): the key would not match.
  if (!sameWeights(prefix, identity)) return leasePrefixSession(prefix, provider);
  const owner = splitSourceOf(prefix);
  // Layers that have no translation run on tfjs inside the session: they must be alive too.
  const isStale = () => (owner !== undefined && modelDisposed(owner)) || modelDisposed(prefix) || !sameWeights(prefix, identity);
  return leaseOnnxSession(key, () => createOnnxSession(prefix, { provider }), isStale);
}

const PATCHED = Symbol.for('tslab-dl.releaseSessionsOnDispose');
/** dispose() calls under way (a model's dispose calls each layer's): the check runs once, after the outermost. */
let disposing = 0;

/**
 * Makes every tfjs Layer and LayersModel dispose() check the kept sessions afterwards, once per
 * process. A prototype patch, as tfjs has no dispose event; it adds one pass over the few kept
 * sessions (microseconds) to each outermost dispose().
 */
function releaseStaleOnDispose(): void {
  const layerPrototype = tf.layers.Layer.prototype as unknown as Record<symbol, boolean>;
  if (layerPrototype[PATCHED]) return;
  const containerPrototype = Object.getPrototypeOf(tf.LayersModel.prototype) as object;
  for (const proto of [tf.layers.Layer.prototype, containerPrototype] as { dispose: (...args: unknown[]) => unknown }[]) {
    const original = proto.dispose;
    proto.dispose = function (this: unknown, ...args: unknown[]) {
      disposing++;
      try {
        return original.apply(this, args);
      } finally {
        if (--disposing === 0) releaseStaleOnnxSessions();
      }
    };
  }
  layerPrototype[PATCHED] = true;
}
