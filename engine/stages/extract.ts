// Stage 1, extract: a validated request (VigilEvent) becomes the typed event the other stages read —
// the address parsed once into its canonical form — and the per-event execution context is created
// (one slot per registry feature, then the probe slots of the pack — or of the shadow pack, which
// has them after the live answer is decided).
import type { Slots } from '../../dsl/index.ts';
import type { FeatureInput } from '../../features/catalog.ts';
import { historyFeatures } from '../../features/history.ts';
import { parseIp } from '../../features/ip.ts';
import { NO_SESSION } from '../../features/session.ts';
import { velocityFeatures } from '../../features/velocity.ts';
import type { VigilEvent } from '../types.ts';
import type { Extracted } from './types.ts';

const NO_GEO = Object.freeze({});
const NO_UA = Object.freeze({});
const NO_HISTORY = historyFeatures(undefined, { time: 0 });
const NO_VELOCITY = velocityFeatures(undefined);

export function extract(event: VigilEvent, slotCount: number): Extracted {
  // Every field present from the start (undefined until its source has run): one object shape.
  const input: FeatureInput = {
    event,
    ip: parseIp(event.ip),
    geo: NO_GEO,
    ua: NO_UA,
    history: NO_HISTORY,
    velocity: NO_VELOCITY,
    session: NO_SESSION,
    rba: undefined,
    anomaly: undefined,
    modelVersion: undefined,
    degraded: false,
  };
  const slots: Slots = new Array(slotCount);
  return { event, input, slots };
}
